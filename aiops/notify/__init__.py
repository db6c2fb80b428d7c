"""Notifications out (pure parts): from incident state changes to the requests that tell people.

Stages, each a plain function or small class, chained by the notifier (wired later):

1. :mod:`aiops.notify.decision`: which channels hear of which state change, with an idempotency key.
2. :mod:`aiops.notify.outbound`: the request per channel type, built by
   :mod:`aiops.notify.alertmanager` (with its re-post schedule), :mod:`aiops.notify.webhook`
   (signed; the receivers' verifier too) and :mod:`aiops.notify.slack`.
3. :mod:`aiops.notify.targets`: may the engine send there (the operator's allow-list,
   checked again at send time against DNS rebinding)?
4. :mod:`aiops.notify.retry`: when to try a failed delivery again.

Channel configs live in :mod:`aiops.notify.channels`, settings in :mod:`aiops.notify.settings`.
"""
