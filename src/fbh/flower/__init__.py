"""fbh on Flower: each party on its own node, Flower carrying the messages (needs ``pip install fbh[flower]``).

- :mod:`fbh.flower.server_app` (``app``): the server role, driving a run over a Flower ``Grid``;
- :mod:`fbh.flower.client_app` (``app``): every other party — registrar, hospital, auditor —
  chosen by the node config;
- :mod:`fbh.flower.records`: fbh's messages as Flower records, and the stage names.

Nothing in :mod:`fbh.protocol` imports Flower: these apps are a second driver of the
same roles as the in-process :class:`fbh.protocol.session.Session`.
"""
