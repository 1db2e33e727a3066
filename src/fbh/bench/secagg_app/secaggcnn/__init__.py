"""FedAvg, optionally under Flower's SecAgg+, on the parameter arrays of fbh's CNN."""
