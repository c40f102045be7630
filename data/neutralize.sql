-- A neutralized copy of the database must not talk to the ESPs: backends are
-- archived (delivery jobs check it) and lose their credentials (stored
-- encrypted, in the *_enc columns).
UPDATE esp_backend
   SET active = false,
       api_key_enc = NULL,
       api_user_enc = NULL,
       api_secret_enc = NULL,
       webhook_secret_enc = NULL,
       webhook_signing_secret_enc = NULL;
