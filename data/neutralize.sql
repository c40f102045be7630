-- A neutralized copy of the database must not talk to the ESPs: backends are
-- archived (delivery jobs check it) and lose their credentials.
UPDATE esp_backend
   SET active = false,
       api_key = NULL,
       api_secret = NULL,
       webhook_secret = NULL,
       webhook_signing_secret = NULL;
