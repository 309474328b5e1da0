package main

import (
	"errors"
	"fmt"
	"strings"
)

// Order is the state stored as each version of an "order" stream.
type Order struct {
	Customer   string `json:"customer"`
	Items      []Item `json:"items"`
	Status     string `json:"status"`
	TotalCents int64  `json:"total_cents"`
	// ImportID is the bulk import that created the order, if any. Only the
	// import sets it: see fromClient.
	ImportID string `json:"import_id,omitempty"`
}

// Item is one line of an order.
type Item struct {
	SKU        string `json:"sku"`
	Qty        int64  `json:"qty"`
	PriceCents int64  `json:"price_cents"`
}

var statuses = map[string]bool{"new": true, "paid": true, "shipped": true, "cancelled": true}

// fromClient checks and normalizes an order sent by a client. importID is
// the import of the version it replaces, kept whatever the client sends; a
// client may send it back unchanged (as read), but not set or change it.
func (o *Order) fromClient(importID string) error {
	var errs []error
	if o.ImportID != "" && o.ImportID != importID {
		errs = append(errs, fmt.Errorf("import_id: set only by the import that created an order; leave it out (got %q)", o.ImportID))
	}
	o.ImportID = importID
	return errors.Join(append(errs, o.normalize())...)
}

// normalize fills defaults, computes the total and returns every problem
// found, so a client fixes its request in one round trip.
func (o *Order) normalize() error {
	var errs []error
	o.Customer = strings.TrimSpace(o.Customer)
	if o.Customer == "" || len(o.Customer) > 100 {
		errs = append(errs, errors.New("customer: required, at most 100 characters"))
	}
	if o.Status == "" {
		o.Status = "new"
	}
	if !statuses[o.Status] {
		errs = append(errs, fmt.Errorf("status: %q is not one of new, paid, shipped, cancelled", o.Status))
	}
	if len(o.Items) == 0 || len(o.Items) > 100 {
		errs = append(errs, fmt.Errorf("items: want 1 to 100 items, got %d", len(o.Items)))
	}
	o.TotalCents = 0
	for i, it := range o.Items {
		if it.SKU == "" || len(it.SKU) > 64 {
			errs = append(errs, fmt.Errorf("items[%d].sku: required, at most 64 characters", i))
		}
		if it.Qty < 1 || it.Qty > 1000 {
			errs = append(errs, fmt.Errorf("items[%d].qty: want 1 to 1000, got %d", i, it.Qty))
		}
		if it.PriceCents < 0 || it.PriceCents > 100_000_000 {
			errs = append(errs, fmt.Errorf("items[%d].price_cents: want 0 to 100000000, got %d", i, it.PriceCents))
		}
		o.TotalCents += it.Qty * it.PriceCents
	}
	return errors.Join(errs...)
}
