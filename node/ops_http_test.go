package node_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/custos-network/custos/node/nodetest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestOpsHTTP(t *testing.T) {
	n := nodetest.Start(t)
	base := "http://" + n.OpsAddrForTest()
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d on a running node", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := nodetest.NewDevice(t, "alice")
	if err := d.Connect(ctx, n.Info()); err != nil {
		t.Fatal(err)
	}
	if err := d.Enroll(ctx, n.ID(), ""); err != nil {
		t.Fatal(err)
	}
	if err := d.Login(ctx, n.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Put(ctx, n.ID(), nodetest.Unit(), nodetest.Share()); err != nil {
		t.Fatal(err)
	}
	// A request is counted once its answer is written, so the put's count
	// may land just after the device has read the answer: read /metrics
	// until it is there (or a while has passed, and the checks below say
	// what is missing).
	var code int
	var body string
	putCounted := regexp.MustCompile(`(?m)^custos_requests_total\{code="OK",protocol="/custos/shares/put/2\.0\.0"\} 1$`)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		code, body = get(t, base+"/metrics")
		if code != 200 || putCounted.MatchString(body) || time.Now().After(deadline) {
			break
		}
	}
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	// enroll, login, put: three entries, the last counted at once.
	m := regexp.MustCompile(`(?m)^custos_log_entries (\d+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no custos_log_entries in /metrics")
	}
	if v, _ := strconv.Atoi(m[1]); v < 3 {
		t.Errorf("custos_log_entries = %d; want at least 3", v)
	}
	for _, series := range []string{
		`custos_requests_total{code="OK",protocol="/custos/shares/put/2.0.0"} 1`,
		`custos_logins_total{outcome="ok"} 1`,
		`custos_request_duration_seconds_count{protocol="/custos/login/2.0.0"} 1`,
		`custos_locked_accounts 0`,
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + `$`).MatchString(body) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	if regexp.MustCompile(`alice`).MatchString(body) {
		t.Error("/metrics names a user")
	}
}
