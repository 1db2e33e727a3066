"""numpy FedAvg: the smallest app that exercises a Flower deployment end to end."""
