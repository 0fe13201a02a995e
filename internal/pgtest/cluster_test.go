package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestCluster takes one cluster through every state a test may put it in,
// checking after each step whether it answers and that what was committed
// survives.
func TestCluster(t *testing.T) {
	c := NewCluster(t)
	if _, err := queryCount(c); err == nil {
		t.Fatal("table t exists in a new cluster")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatalf("connect to new cluster: %v", err)
	}
	_, err = conn.Exec(ctx, `CREATE TABLE t (n int); INSERT INTO t VALUES (1)`)
	conn.Close(ctx)
	if err != nil {
		t.Fatalf("create table t: %v", err)
	}

	steps := []struct {
		name     string
		do       func(t *testing.T)
		wantRows int // 0: the server must not answer
	}{
		{name: "running", do: func(*testing.T) {}, wantRows: 1},
		{name: "stopped fast", do: func(t *testing.T) { c.Stop(t, true) }},
		{name: "started again", do: func(t *testing.T) { c.Start(t) }, wantRows: 1},
		{name: "frozen", do: func(t *testing.T) { c.Freeze(t) }},
		{name: "thawed", do: func(t *testing.T) { c.Thaw(t) }, wantRows: 1},
		{name: "stopped immediately", do: func(t *testing.T) { c.Stop(t, false) }},
		{name: "recovered", do: func(t *testing.T) { c.Start(t) }, wantRows: 1},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.do(t)
			got, err := queryCount(c)
			if s.wantRows == 0 && err == nil {
				t.Errorf("SELECT count(*) FROM t = %d, nil, want an error", got)
			}
			if s.wantRows != 0 && (err != nil || got != s.wantRows) {
				t.Errorf("SELECT count(*) FROM t = %d, %v, want %d, nil", got, err, s.wantRows)
			}
		})
	}
}

// queryCount counts the rows of table t, giving up after half a second.
func queryCount(c *Cluster) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())

	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n)
	return n, err
}
