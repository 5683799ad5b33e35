package mapping

import (
	"time"

	"vitrine/item"
)

// Explanation is one customer's decision about one item, for `vitrine
// explain REF`. Internal: it names rules, labels and other customers.
type Explanation struct {
	Customer string `json:"customer"`
	// Decision is nil when the item is not in this customer's sources.
	Decision *Decision `json:"decision,omitempty"`
	// Item is what leaves when the item is published.
	Item *Item `json:"item,omitempty"`
}

// Explain curates every customer and returns, for each, the decisions about
// the items whose display Ref or ID is ref (a file board may repeat a Ref
// across sources, so there can be several per customer). snaps should hold
// every source of every customer.
func (s *Set) Explain(snaps []item.Snapshot, ref string, now time.Time) ([]Explanation, error) {
	var out []Explanation
	for _, c := range s.customers {
		res, err := s.Curate(c.cfg.ID, snaps, now)
		if err != nil {
			return nil, err
		}
		found := false
		for i := range res.Decisions {
			d := res.Decisions[i]
			if d.Ref != ref && d.Item != ref {
				continue
			}
			found = true
			e := Explanation{Customer: c.cfg.ID, Decision: &d}
			for j := range res.View.Items {
				if res.View.Items[j].Key == d.Item {
					v := res.View.Items[j]
					e.Item = &v
				}
			}
			out = append(out, e)
		}
		if !found {
			out = append(out, Explanation{Customer: c.cfg.ID})
		}
	}
	return out, nil
}
