DROP TABLE access_tokens;
DROP TABLE keys;
DROP TABLE client_resources;
DROP TABLE resources;
DROP TABLE clients;
