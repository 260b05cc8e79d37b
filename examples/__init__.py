"""Example handlers named by the shipped jobs.yaml."""
