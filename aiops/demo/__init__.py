"""``aiops demo``: a simulated microservice system, faults, and the engine finding them."""
