-- SMART App Launch authorization server state. Secrets (client secrets, codes, refresh tokens,
-- registration tokens) are stored only as SHA-256 digests, so a database dump cannot replay them.

-- Token signing keys, generated on first start; a retired key stays published in the JWKS until
-- every token it signed has expired (rotation).
CREATE TABLE auth_signing_keys (
  kid         text        PRIMARY KEY,
  alg         text        NOT NULL,
  public_jwk  jsonb       NOT NULL,
  private_jwk jsonb       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  retired_at  timestamptz
);

CREATE TABLE auth_clients (
  client_id                  text        PRIMARY KEY,
  client_name                text        NOT NULL,
  client_type                text        NOT NULL CHECK (client_type IN ('public', 'confidential-symmetric', 'confidential-asymmetric')),
  token_endpoint_auth_method text        NOT NULL CHECK (token_endpoint_auth_method IN ('none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt')),
  secret_hash                text,
  redirect_uris              jsonb       NOT NULL DEFAULT '[]',
  launch_uris                jsonb       NOT NULL DEFAULT '[]',
  grant_types                jsonb       NOT NULL DEFAULT '[]',
  scope                      text        NOT NULL,          -- the client's pre-authorised ceiling
  jwks_uri                   text,
  jwks                       jsonb,
  first_party                boolean     NOT NULL DEFAULT false,
  registration_token_hash    text,
  metadata                   jsonb       NOT NULL DEFAULT '{}',
  created_at                 timestamptz NOT NULL DEFAULT now()
);

-- Our own stable subject per person, keyed by the login provider's (pairwise) subject; the
-- fødselsnummer itself is never stored here.
CREATE TABLE auth_subjects (
  sub        text        PRIMARY KEY,
  idp_issuer text        NOT NULL,
  idp_sub    text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (idp_issuer, idp_sub)
);

-- One authorization: what a client may do for whom. Every token points at its grant; revoking the
-- grant ends every token on the next request (access-spec §1.9).
CREATE TABLE auth_grants (
  grant_id       text        PRIMARY KEY,
  client_id      text        NOT NULL REFERENCES auth_clients (client_id) ON DELETE CASCADE,
  kind           text        NOT NULL CHECK (kind IN ('patient', 'user', 'system')),
  sub            text,
  patient_id     text,
  fhir_user      text,
  scope          text        NOT NULL,
  context        jsonb       NOT NULL DEFAULT '{}',
  session_id     text,
  auth_time      timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  revoked_at     timestamptz,
  revoked_reason text
);
CREATE INDEX auth_grants_patient ON auth_grants (patient_id) WHERE revoked_at IS NULL;
CREATE INDEX auth_grants_sub ON auth_grants (sub) WHERE revoked_at IS NULL;
CREATE INDEX auth_grants_session ON auth_grants (session_id) WHERE revoked_at IS NULL;

-- A pending authorization request between /authorize and the code (login, picker, terms, consent).
CREATE TABLE auth_requests (
  request_id text        PRIMARY KEY,
  client_id  text        NOT NULL REFERENCES auth_clients (client_id) ON DELETE CASCADE,
  params     jsonb       NOT NULL,
  csrf       text        NOT NULL,
  sub        text,
  patient_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);

CREATE TABLE auth_codes (
  code_hash      text        PRIMARY KEY,
  grant_id       text        NOT NULL REFERENCES auth_grants (grant_id) ON DELETE CASCADE,
  client_id      text        NOT NULL,
  redirect_uri   text        NOT NULL,
  code_challenge text        NOT NULL,
  expires_at     timestamptz NOT NULL,
  used_at        timestamptz
);

CREATE TABLE auth_refresh_tokens (
  token_hash text        PRIMARY KEY,
  grant_id   text        NOT NULL REFERENCES auth_grants (grant_id) ON DELETE CASCADE,
  client_id  text        NOT NULL,
  scope      text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at    timestamptz
);
CREATE INDEX auth_refresh_tokens_grant ON auth_refresh_tokens (grant_id);

-- Access tokens revoked one by one (RFC 7009) before their expiry; rows are useless after it.
CREATE TABLE auth_revoked_tokens (
  jti        text        PRIMARY KEY,
  expires_at timestamptz NOT NULL
);

-- Seen client-assertion jti values (SMART backend services: reject replay within the lifetime).
CREATE TABLE auth_assertion_jtis (
  client_id  text        NOT NULL,
  jti        text        NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (client_id, jti)
);

-- EHR launches issued by the portal: the app must bring the same value to /authorize.
CREATE TABLE auth_launches (
  launch_id  text        PRIMARY KEY,
  client_id  text        NOT NULL REFERENCES auth_clients (client_id) ON DELETE CASCADE,
  sub        text        NOT NULL,
  patient_id text        NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at    timestamptz
);
