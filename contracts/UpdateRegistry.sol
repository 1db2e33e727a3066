// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title UpdateRegistry: fbh's audit trail for federated rounds.
/// @notice The admin (the KGC, who deploys) registers the server, hospitals and
/// auditors and publishes the ElGamal public key. Per round the server opens
/// the round, every hospital commits once to SHA-256 of its exact ciphertext
/// bytes, the server may exclude parties with a reason code, then records the
/// aggregate's commitment and the new global model's hash (closing the round),
/// and an auditor approves or rejects it with the validation accuracy.
/// A round that cannot finish (a crash, no usable update) is cancelled by
/// the server or the admin with a reason, so no round is ever stuck Open;
/// the admin can revoke a participant. Every input is bounded: round numbers
/// are consecutive, reason codes are enums, sample counts fit 32 bits.
/// @dev Storage is packed so a commitment writes exactly two fresh slots
/// (digest; samples + block + rejection) and touches no array: the round view
/// enumerates the registered hospitals instead of a per-round list.
contract UpdateRegistry {
    enum Role { None, Server, Hospital, Auditor }
    enum Status { None, Open, Aggregated, Approved, Rejected, Cancelled }
    /// Why the server excluded a party (fbh.chain.RejectReason); 0 is reserved.
    enum RejectReason { None, DigestMismatch, UnregisteredSender, Replay, Duplicate, BadSignature,
                        NotCommitted, Malformed, NotReceived, InvalidProof, OutOfRange, NoRangeProof }
    /// Why a round was cancelled (fbh.chain.CancelReason); 0 is reserved.
    enum CancelReason { None, Interrupted, NoUsableUpdates, DecryptionFailed, AuditTimeout, Administrative }

    struct Participant {
        Role role;
        bool revoked; // set by the admin: the account can no longer act in its role
        address signer; // key that signs the participant's ciphertext blobs
    }

    struct Entry {
        bytes32 digest; // SHA-256 of the committed ciphertext bytes; 0 = none
        uint64 numSamples;
        uint64 blockNumber;
        uint16 rejectReason; // 0 = not excluded
    }

    struct Round {
        Status status;
        CancelReason cancelReason;
        uint16 accuracyBps;
        uint64 openedBlock;
        uint64 aggregatedBlock;
        uint64 auditedBlock;
        bool blamed; // a recorded sum failed to decode and a party was blamed (recordBlame)
        address auditor;
        bytes32 aggregateDigest;
        bytes32 modelHash;
    }

    struct Rejection {
        address party;
        uint16 reason;
    }

    struct ParticipantView {
        address account;
        Role role;
        address signer;
        bool revoked;
    }

    struct UpdateView {
        address hospital;
        bytes32 digest;
        uint64 numSamples;
        uint64 blockNumber;
        uint16 rejectReason;
    }

    struct RoundView {
        uint64 round;
        Status status;
        uint16 accuracyBps;
        uint64 openedBlock;
        uint64 aggregatedBlock;
        uint64 auditedBlock;
        address auditor;
        bytes32 aggregateDigest;
        bytes32 modelHash;
        UpdateView[] updates;
        Rejection[] rejections;
        CancelReason cancelReason;
    }

    error NotAdmin(address caller);
    error NotServer(address caller);
    error NotHospital(address caller);
    error NotAuditor(address caller);
    error ZeroAddress();
    error InvalidRole();
    error AlreadyRegistered(address account);
    error KeyAlreadyPublished();
    error InvalidPublicKey();
    error KeyNotPublished();
    error RoundAlreadyOpen(uint64 openRound);
    error RoundNotNext(uint64 round, uint64 expected);
    error RoundNotCancellable(uint64 round);
    error NotServerOrAdmin(address caller);
    error NotRegistered(address account);
    error AlreadyRevoked(address account);
    error TooManySamples(uint64 numSamples);
    error RoundNotOpen(uint64 round);
    error RoundNotAggregated(uint64 round);
    error UnknownRound(uint64 round);
    error AlreadySubmitted(uint64 round, address hospital);
    error AlreadyRejected(uint64 round, address party);
    error Excluded(uint64 round, address hospital);
    error ZeroDigest();
    error ZeroSamples();
    error InvalidReason(uint256 reason);
    error InvalidAccuracy(uint16 accuracyBps);

    event ParticipantRegistered(address indexed account, Role role, address signer);
    event PublicKeyPublished(bytes publicKey);
    event RoundOpened(uint64 indexed round);
    event UpdateCommitted(uint64 indexed round, address indexed hospital, bytes32 digest, uint64 numSamples);
    event PartyRejected(uint64 indexed round, address indexed party, uint16 reason);
    event AggregateRecorded(uint64 indexed round, bytes32 aggregateDigest, bytes32 modelHash);
    event RoundAudited(uint64 indexed round, address indexed auditor, bool approved, uint16 accuracyBps);
    event RoundCancelled(uint64 indexed round, address indexed by, CancelReason reason);
    event ParticipantRevoked(address indexed account);

    uint16 private constant MAX_BPS = 10_000;
    uint64 private constant MAX_SAMPLES = type(uint32).max;

    address public admin; // the KGC; plain storage so deployed code equals the artifact
    uint64 public lastRound; // shares a slot with currentRound: one write opens a round
    uint64 public currentRound; // the open round, 0 when none is open
    bytes private _publicKey;

    mapping(address => Participant) private _participants;
    address[] private _accounts;
    address[] private _hospitals;
    uint64[] private _roundIds;
    mapping(uint64 => Round) private _rounds;
    mapping(uint64 => mapping(address => Entry)) private _entries;
    mapping(uint64 => Rejection[]) private _rejections;

    constructor() {
        admin = msg.sender;
    }

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        _;
    }

    modifier onlyRole(Role role) {
        Participant storage p = _participants[msg.sender];
        if (p.role != role || p.revoked) {
            if (role == Role.Server) revert NotServer(msg.sender);
            if (role == Role.Hospital) revert NotHospital(msg.sender);
            revert NotAuditor(msg.sender);
        }
        _;
    }

    // ----------------------------------------------------------------- admin

    /// @notice Registers `account` with `role`; `signer` is the address whose
    /// signatures on ciphertext blobs count as the participant's.
    function register(address account, Role role, address signer) external onlyAdmin {
        if (account == address(0) || signer == address(0)) revert ZeroAddress();
        if (role == Role.None) revert InvalidRole();
        if (_participants[account].role != Role.None) revert AlreadyRegistered(account);
        _participants[account] = Participant(role, false, signer);
        _accounts.push(account);
        if (role == Role.Hospital) _hospitals.push(account);
        emit ParticipantRegistered(account, role, signer);
    }

    /// @notice Revokes `account`: it keeps its history but can no longer act.
    function revoke(address account) external onlyAdmin {
        Participant storage p = _participants[account];
        if (p.role == Role.None) revert NotRegistered(account);
        if (p.revoked) revert AlreadyRevoked(account);
        p.revoked = true;
        emit ParticipantRevoked(account);
    }

    /// @notice Publishes the ElGamal public key (33-byte compressed secp256k1).
    function publishKey(bytes calldata publicKey_) external onlyAdmin {
        if (_publicKey.length != 0) revert KeyAlreadyPublished();
        if (publicKey_.length != 33 || (publicKey_[0] != 0x02 && publicKey_[0] != 0x03)) {
            revert InvalidPublicKey();
        }
        _publicKey = publicKey_;
        emit PublicKeyPublished(publicKey_);
    }

    /// @notice Publishes the SHA-256 of a packed key set (fbh wire format v2;
    /// its k points travel off chain and are checked against this digest).
    /// Shares the key's slot: `publicKey()` then returns these 32 bytes.
    function publishKeySet(bytes32 keySetDigest) external onlyAdmin {
        if (_publicKey.length != 0) revert KeyAlreadyPublished();
        if (keySetDigest == bytes32(0)) revert ZeroDigest();
        _publicKey = abi.encodePacked(keySetDigest);
        emit PublicKeyPublished(_publicKey);
    }

    // ---------------------------------------------------------------- server

    /// @notice Opens `round` for commitments; rounds are consecutive (so no
    /// huge number can exhaust them), one is open at a time, and none opens
    /// before the public key is published.
    function openRound(uint64 round) external onlyRole(Role.Server) {
        _open(round);
    }

    function _open(uint64 round) private {
        if (_publicKey.length == 0) revert KeyNotPublished();
        if (currentRound != 0) revert RoundAlreadyOpen(currentRound);
        if (round != lastRound + 1) revert RoundNotNext(round, lastRound + 1);
        lastRound = round;
        currentRound = round;
        _roundIds.push(round);
        Round storage r = _rounds[round];
        r.status = Status.Open;
        r.openedBlock = uint64(block.number);
        emit RoundOpened(round);
    }

    /// @notice Excludes `party` (a hospital or any sender) from `round`.
    function recordRejection(uint64 round, address party, uint16 reason) external onlyRole(Role.Server) {
        Round storage r = _rounds[round];
        if (r.status != Status.Open) revert RoundNotOpen(round);
        if (_trust[round].sumDigest != bytes32(0) || r.blamed) revert SumAlreadyRecorded(round);
        if (reason == 0 || reason > uint16(type(RejectReason).max)) revert InvalidReason(reason);
        // The entry's reason doubles as the exclusion flag, also for parties
        // that never committed, so a late commitment is refused too.
        Entry storage e = _entries[round][party];
        if (e.rejectReason != 0) revert AlreadyRejected(round, party);
        e.rejectReason = reason;
        _rejections[round].push(Rejection(party, reason));
        emit PartyRejected(round, party, reason);
    }

    /// @notice Closes `round` with the aggregate ciphertext's commitment and
    /// the hash of the global model it produced.
    function recordAggregate(uint64 round, bytes32 aggregateDigest, bytes32 modelHash)
        external
        onlyRole(Role.Server)
    {
        Round storage r = _rounds[round];
        if (r.status != Status.Open) revert RoundNotOpen(round);
        if (aggregateDigest == bytes32(0) || modelHash == bytes32(0)) revert ZeroDigest();
        bytes32 recordedSum = _trust[round].sumDigest;
        if (recordedSum != bytes32(0) && recordedSum != aggregateDigest) revert SumMismatch(round);
        if (recordedSum == bytes32(0) && r.blamed) revert SumNotRecorded(round);
        r.status = Status.Aggregated;
        r.aggregatedBlock = uint64(block.number);
        r.aggregateDigest = aggregateDigest;
        r.modelHash = modelHash;
        currentRound = 0;
        emit AggregateRecorded(round, aggregateDigest, modelHash);
    }

    /// @notice Cancels `round`, open or aggregated but not yet audited, with
    /// `reason`; the server or the admin may. Its number stays used: the
    /// work is redone in the next round.
    function cancelRound(uint64 round, uint8 reason) external {
        Participant storage p = _participants[msg.sender];
        if (msg.sender != admin && (p.role != Role.Server || p.revoked)) revert NotServerOrAdmin(msg.sender);
        if (reason == 0 || reason > uint8(type(CancelReason).max)) revert InvalidReason(reason);
        Round storage r = _rounds[round];
        if (r.status != Status.Open && r.status != Status.Aggregated) revert RoundNotCancellable(round);
        r.status = Status.Cancelled;
        r.cancelReason = CancelReason(reason);
        if (currentRound == round) currentRound = 0;
        emit RoundCancelled(round, msg.sender, CancelReason(reason));
    }

    // -------------------------------------------------------------- hospital

    /// @notice Commits the caller's update for `round`: SHA-256 of its exact
    /// ciphertext bytes and the number of training samples behind it.
    function commitUpdate(uint64 round, bytes32 digest, uint64 numSamples) external onlyRole(Role.Hospital) {
        Round storage r = _rounds[round];
        if (r.status != Status.Open || r.blamed) revert RoundNotOpen(round);
        if (digest == bytes32(0)) revert ZeroDigest();
        if (numSamples == 0) revert ZeroSamples();
        if (numSamples > MAX_SAMPLES) revert TooManySamples(numSamples);
        Entry storage e = _entries[round][msg.sender];
        if (e.digest != bytes32(0)) revert AlreadySubmitted(round, msg.sender);
        if (e.rejectReason != 0) revert Excluded(round, msg.sender);
        if (_trust[round].sumDigest != bytes32(0)) revert SumAlreadyRecorded(round);
        e.digest = digest;
        e.numSamples = numSamples;
        e.blockNumber = uint64(block.number);
        emit UpdateCommitted(round, msg.sender, digest, numSamples);
    }

    // --------------------------------------------------------------- auditor

    /// @notice Approves or rejects the model `round` produced, recording the
    /// validation accuracy in basis points (0..10000).
    function audit(uint64 round, bool approved, uint16 accuracyBps) external onlyRole(Role.Auditor) {
        Round storage r = _rounds[round];
        if (r.status != Status.Aggregated) revert RoundNotAggregated(round);
        if (accuracyBps > MAX_BPS) revert InvalidAccuracy(accuracyBps);
        r.status = approved ? Status.Approved : Status.Rejected;
        r.accuracyBps = accuracyBps;
        r.auditedBlock = uint64(block.number);
        r.auditor = msg.sender;
        emit RoundAudited(round, msg.sender, approved, accuracyBps);
    }

    // ---------------------------------------------------------------- views

    function publicKey() external view returns (bytes memory) {
        return _publicKey;
    }

    function participant(address account) external view returns (ParticipantView memory) {
        Participant storage p = _participants[account];
        return ParticipantView(account, p.role, p.signer, p.revoked);
    }

    function participants() external view returns (ParticipantView[] memory out) {
        out = new ParticipantView[](_accounts.length);
        for (uint256 i = 0; i < out.length; ++i) {
            address a = _accounts[i];
            Participant storage p = _participants[a];
            out[i] = ParticipantView(a, p.role, p.signer, p.revoked);
        }
    }

    function roundIds() external view returns (uint64[] memory) {
        return _roundIds;
    }

    /// @notice Everything about `round`; updates are in registration order.
    function getRound(uint64 round) public view returns (RoundView memory v) {
        Round storage r = _rounds[round];
        if (r.status == Status.None) revert UnknownRound(round);
        v.round = round;
        v.status = r.status;
        v.accuracyBps = r.accuracyBps;
        v.openedBlock = r.openedBlock;
        v.aggregatedBlock = r.aggregatedBlock;
        v.auditedBlock = r.auditedBlock;
        v.auditor = r.auditor;
        v.aggregateDigest = r.aggregateDigest;
        v.modelHash = r.modelHash;
        v.updates = _updates(round);
        v.rejections = _rejections[round];
        v.cancelReason = r.cancelReason;
    }

    function getRounds(uint64[] calldata rounds) external view returns (RoundView[] memory out) {
        out = new RoundView[](rounds.length);
        for (uint256 i = 0; i < rounds.length; ++i) {
            out[i] = getRound(rounds[i]);
        }
    }

    function _updates(uint64 round) private view returns (UpdateView[] memory out) {
        mapping(address => Entry) storage entries = _entries[round];
        uint256 n = 0;
        for (uint256 i = 0; i < _hospitals.length; ++i) {
            if (entries[_hospitals[i]].digest != bytes32(0)) ++n;
        }
        out = new UpdateView[](n);
        uint256 k = 0;
        for (uint256 i = 0; i < _hospitals.length; ++i) {
            address h = _hospitals[i];
            Entry storage e = entries[h];
            if (e.digest == bytes32(0)) continue;
            out[k++] = UpdateView(h, e.digest, e.numSamples, e.blockNumber, e.rejectReason);
        }
    }

    // ------------------------------- guardians and a model bound to the sum (issue 8)
    // A round run by guardians records, in order: the model it starts from (openRoundFrom),
    // the digest of the sum of exactly the accepted updates (recordSum: commitments and
    // exclusions are frozen from then on), the digest of the guardians' decryption shares
    // with the dequantization parameters (recordDecryption), then recordAggregate with the
    // same sum and the new model's hash. Anyone can recompute every step from these digests.

    struct TrustRecord {
        bytes32 startModel; // hash of the global model the round starts from
        bytes32 sumDigest; // SHA-256 of the aggregate of exactly the accepted updates
        bytes32 sharesDigest; // digest of the guardians' decryption shares and proofs
        bytes32 paramsDigest; // digest of the dequantization parameters
    }

    error GuardiansAlreadyPublished();
    error InvalidThreshold(uint8 guardians, uint8 threshold);
    error SumAlreadyRecorded(uint64 round);
    error SumNotRecorded(uint64 round);
    error SumMismatch(uint64 round);

    event GuardiansPublished(bytes32 ceremonyDigest, uint8 guardians, uint8 threshold);
    event StartModelRecorded(uint64 indexed round, bytes32 modelHash);
    event SumRecorded(uint64 indexed round, bytes32 aggregateDigest);
    event DecryptionRecorded(uint64 indexed round, bytes32 sharesDigest, bytes32 paramsDigest);

    bytes32 public guardianCeremony; // digest of the key ceremony's public record
    uint8 public guardianCount;
    uint8 public guardianThreshold;
    mapping(uint64 => TrustRecord) private _trust;

    /// @notice Publishes the guardians' key ceremony (its public record's digest), n and t.
    function publishGuardians(bytes32 ceremonyDigest, uint8 guardians, uint8 threshold) external onlyAdmin {
        if (guardianCeremony != bytes32(0)) revert GuardiansAlreadyPublished();
        if (ceremonyDigest == bytes32(0)) revert ZeroDigest();
        if (threshold == 0 || threshold > guardians) revert InvalidThreshold(guardians, threshold);
        guardianCeremony = ceremonyDigest;
        guardianCount = guardians;
        guardianThreshold = threshold;
        emit GuardiansPublished(ceremonyDigest, guardians, threshold);
    }

    /// @notice Opens `round` (as openRound) from the global model with hash `startModel`.
    function openRoundFrom(uint64 round, bytes32 startModel) external onlyRole(Role.Server) {
        if (startModel == bytes32(0)) revert ZeroDigest();
        _open(round);
        _trust[round].startModel = startModel;
        emit StartModelRecorded(round, startModel);
    }

    /// @notice Records the digest of the sum of exactly the accepted updates, before
    /// decryption; commitments and exclusions of `round` are frozen from here on.
    function recordSum(uint64 round, bytes32 aggregateDigest) external onlyRole(Role.Server) {
        if (_rounds[round].status != Status.Open) revert RoundNotOpen(round);
        if (aggregateDigest == bytes32(0)) revert ZeroDigest();
        TrustRecord storage t = _trust[round];
        if (t.sumDigest != bytes32(0)) revert SumAlreadyRecorded(round);
        t.sumDigest = aggregateDigest;
        emit SumRecorded(round, aggregateDigest);
    }

    /// @notice Records the digests of the guardians' shares and of the dequantization parameters.
    function recordDecryption(uint64 round, bytes32 sharesDigest, bytes32 paramsDigest)
        external
        onlyRole(Role.Server)
    {
        if (_rounds[round].status != Status.Open) revert RoundNotOpen(round);
        TrustRecord storage t = _trust[round];
        if (t.sumDigest == bytes32(0)) revert SumNotRecorded(round);
        if (sharesDigest == bytes32(0) || paramsDigest == bytes32(0)) revert ZeroDigest();
        if (t.sharesDigest != bytes32(0)) revert AlreadySubmitted(round, msg.sender);
        t.sharesDigest = sharesDigest;
        t.paramsDigest = paramsDigest;
        emit DecryptionRecorded(round, sharesDigest, paramsDigest);
    }

    /// @notice The blame path (issue 9): the recorded sum did not decode, and `party`, an accepted
    /// hospital, could not prove its range at the failing coordinate (`reason` OutOfRange or
    /// NoRangeProof). Excludes it and clears the recorded sum, so the survivors' sum can be recorded
    /// and decrypted; commitments and other exclusions stay frozen. Only before any decryption
    /// is recorded: a round decrypts exactly one sum.
    function recordBlame(uint64 round, address party, uint16 reason) external onlyRole(Role.Server) {
        Round storage r = _rounds[round];
        if (r.status != Status.Open) revert RoundNotOpen(round);
        TrustRecord storage t = _trust[round];
        if (t.sumDigest == bytes32(0) && !r.blamed) revert SumNotRecorded(round);
        if (t.sharesDigest != bytes32(0)) revert AlreadySubmitted(round, msg.sender);
        if (reason != uint16(RejectReason.OutOfRange) && reason != uint16(RejectReason.NoRangeProof)) {
            revert InvalidReason(reason);
        }
        Entry storage e = _entries[round][party];
        if (e.digest == bytes32(0)) revert ZeroDigest();
        if (e.rejectReason != 0) revert AlreadyRejected(round, party);
        e.rejectReason = reason;
        _rejections[round].push(Rejection(party, reason));
        t.sumDigest = bytes32(0);
        r.blamed = true;
        emit PartyRejected(round, party, reason);
    }

    function trustRecord(uint64 round) external view returns (TrustRecord memory) {
        return _trust[round];
    }
}
