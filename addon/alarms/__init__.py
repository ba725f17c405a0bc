"""The ways an alarm reaches the merchant: an email through the host's Flask-Mail settings
(:mod:`.email`) and a signed JSON post the host routes anywhere (:mod:`.webhook`).

Each channel answers with its outcome in words (shown in the Alarms tab's history) and never
raises: an alarm that cannot be sent must not stop the sweeper that raised it. What to send
and when is decided in :mod:`addon.engine.alarms`.
"""

#: A channel the host turned off.
OFF = "off"
