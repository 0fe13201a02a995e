package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"
)

// storedRequest is the form in which a fosite request is kept with an
// authorization code or refresh token. Only what a later step needs is
// kept: the form is fosite's sanitised one (redirect_uri, PKCE challenge),
// never a secret.
type storedRequest struct {
	ID                string     `json:"id"`
	RequestedAt       time.Time  `json:"requested_at"`
	ClientID          string     `json:"client_id"`
	RequestedScopes   []string   `json:"requested_scopes"`
	GrantedScopes     []string   `json:"granted_scopes"`
	RequestedAudience []string   `json:"requested_audience"`
	GrantedAudience   []string   `json:"granted_audience"`
	Form              url.Values `json:"form"`
	Session           *Session   `json:"session"`
}

// encodeRequest serialises req for storage.
func encodeRequest(req fosite.Requester) ([]byte, error) {
	sess, ok := req.GetSession().(*Session)
	if !ok {
		return nil, fmt.Errorf("provider: unexpected session type %T", req.GetSession())
	}
	b, err := json.Marshal(storedRequest{
		ID:                req.GetID(),
		RequestedAt:       req.GetRequestedAt(),
		ClientID:          req.GetClient().GetID(),
		RequestedScopes:   req.GetRequestedScopes(),
		GrantedScopes:     req.GetGrantedScopes(),
		RequestedAudience: req.GetRequestedAudience(),
		GrantedAudience:   req.GetGrantedAudience(),
		Form:              req.GetRequestForm(),
		Session:           sess,
	})
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return b, nil
}

// decodeRequest rebuilds a stored request. The session is decoded into
// into when it is a *Session (fosite passes the session it wants filled),
// and into a new one otherwise. The client is loaded afresh, so a client
// deleted since is ErrNotFound.
func (s fositeStore) decodeRequest(ctx context.Context, b []byte, into fosite.Session) (*fosite.Request, error) {
	sess, ok := into.(*Session)
	if !ok || sess == nil {
		sess = NewSession()
	}
	sr := storedRequest{Session: sess}
	if err := json.Unmarshal(b, &sr); err != nil {
		return nil, fmt.Errorf("decode stored request: %w", err)
	}
	c, err := s.p.client(ctx, sr.ClientID)
	if err != nil {
		return nil, fositeError(err)
	}

	req := fosite.NewRequest()
	req.ID = sr.ID
	req.RequestedAt = sr.RequestedAt
	req.Client = Client{c}
	req.RequestedScope = sr.RequestedScopes
	req.GrantedScope = sr.GrantedScopes
	req.RequestedAudience = sr.RequestedAudience
	req.GrantedAudience = sr.GrantedAudience
	if sr.Form != nil {
		req.Form = sr.Form
	}
	req.Session = sr.Session
	return req, nil
}
