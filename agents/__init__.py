"""From-scratch PyTorch agents and adapters for SB3 baselines."""
