"""The small fault-injected soak (``make soak`` runs the full one): the whole local stack under
throttling, errors, resets, latency spikes, token failures and both restarts."""
