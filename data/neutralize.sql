-- A neutralized copy of the database must not talk to the ESPs.
UPDATE esp_backend SET active = false;
