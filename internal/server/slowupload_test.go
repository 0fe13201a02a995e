package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/pgtest"
)

// TestSlowUpload sends a token request whose body arrives over longer
// than the token endpoint's one-second deadline, but within the read
// timeout. The upload is the client's time: the request must succeed, and
// nothing may be logged or answered as a database outage.
func TestSlowUpload(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	in.createResource(apiA, "read")
	client := in.createClient("read", apiA)

	body := url.Values{"grant_type": {"client_credentials"}, "resource": {apiA}}.Encode()
	conn, err := net.Dial("tcp", hostOf(in.base))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := fmt.Sprintf("POST /oauth2/token HTTP/1.1\r\nHost: veil\r\nConnection: close\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", len(body))
	req, err := http.NewRequest(http.MethodPost, in.base, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(url.QueryEscape(client.ID), url.QueryEscape(client.Secret))
	head = strings.Replace(head, "\r\n\r\n", "\r\nAuthorization: "+req.Header.Get("Authorization")+"\r\n\r\n", 1)

	if _, err := io.WriteString(conn, head+body[:10]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if _, err := io.WriteString(conn, body[10:]); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || got["access_token"] == nil {
		t.Errorf("slow token request = %d %v, want 200 with an access token", resp.StatusCode, got["error"])
	}
	if logs := in.logs.String(); strings.Contains(logs, "unavailable") {
		t.Errorf("a slow upload was logged as an outage:\n%s", logs)
	}
}
