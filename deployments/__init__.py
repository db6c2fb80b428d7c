"""Ray Serve deployments: the REST API (8080) and the Alertmanager port's app (9093).

One app builder, :func:`deployments.app.build_app`, wires every deployment.
"""
