package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"vitrine/connectors/httpapi"
	"vitrine/connectors/jira"
	"vitrine/pace"
	"vitrine/store"
	"vitrine/worker"
)

// credentialLabel names a credential for pacing and metrics without
// revealing it: vendor, host, the variable it came from and a short hash
// (two variables holding one token still pace as one identity).
func credentialLabel(vendor, host, secret string) string {
	sum := sha256.Sum256([]byte("vitrine/credential\x00" + secret))
	return vendor + ":" + host + ":" + hex.EncodeToString(sum[:4])
}

// pacerRef forwards to the runtime's pacer, built once every credential's
// limits are known.
type pacerRef struct{ rt *runtime }

func (p pacerRef) TakeSubject(ctx context.Context, cred string, lane store.Lane, key, subject string) (bool, time.Time, error) {
	return p.rt.pacer.TakeSubject(ctx, cred, lane, key, subject)
}

// httpClient returns the one HTTP client of a credential on a host; a
// writer's client paces its writes per credential under the vendor's limits.
func (rt *runtime) httpClient(vendor, host, varName, secret string, write bool) (*httpapi.Client, error) {
	label := credentialLabel(vendor, host, secret)
	key := label
	if write {
		key += ":w"
	}
	if c, ok := rt.clients[key]; ok {
		return c, nil
	}
	log := rt.log.With().Str("credential", label).Logger()
	o := httpapi.Options{Credential: label, Target: vendor + ":" + host, Clock: rt.clk, Logger: &log}
	if rt.reg != nil {
		o.Registerer = rt.reg // a nil *Registry in the interface would not be nil
	}
	if write {
		o.Pacer = pacerRef{rt}
		o.PaceInfo = worker.PaceLaneKey
		switch vendor {
		case "jira":
			o.Subject = jira.Subject
			rt.limits[label] = pace.JiraCloud()
		default:
			rt.limits[label] = pace.GitHub()
		}
	}
	c, err := httpapi.New(o)
	if err != nil {
		return nil, err
	}
	rt.clients[key] = c
	return c, nil
}
