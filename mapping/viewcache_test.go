package mapping

import (
	"encoding/json"
	"testing"
)

func TestViewCacheDecodesOncePerHash(t *testing.T) {
	v := View{Hash: "h1", Health: "on track"}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var c ViewCache
	if got, err := c.Decode("acme", "h1", data); err != nil || got.Health != "on track" {
		t.Fatalf("first decode = %+v, %v", got, err)
	}
	// Same hash: the kept view, the bytes are not read again.
	if got, err := c.Decode("acme", "h1", []byte("not json")); err != nil || got.Health != "on track" {
		t.Fatalf("decode of a known hash = %+v, %v; want the kept view", got, err)
	}
	// Another hash, or another customer, is decoded.
	if _, err := c.Decode("acme", "h2", []byte("not json")); err == nil {
		t.Fatal("a new hash with bad data decoded without error")
	}
	if _, err := c.Decode("globex", "h1", []byte("not json")); err == nil {
		t.Fatal("another customer's view came from acme's entry")
	}
	var none *ViewCache
	if got, err := none.Decode("acme", "h1", data); err != nil || got.Health != "on track" {
		t.Fatalf("nil cache decode = %+v, %v", got, err)
	}
	if _, err := none.Decode("acme", "h1", []byte("not json")); err == nil {
		t.Fatal("a nil cache kept a view")
	}
}
