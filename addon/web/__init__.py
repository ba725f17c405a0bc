"""What a person or a storefront sends: the blueprint, the merchant screens (``views/``), their
forms, the signed event webhook (``api``, ``webhooks``) and the health check."""
