package pgstore_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/pgstore"
	"github.com/hookline/webhook/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	pool := testPool(t)
	storetest.Run(t, func(t *testing.T) webhook.Store { return newSchemaStore(t, pool, nil) })
}

func TestMigrateIdempotentAndConcurrent(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	s := newSchemaStore(t, pool, nil)
	ctx := context.Background()
	// Five instances migrating the same schema at once, then again.
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = pgstore.New(pool, &pgstore.Options{Schema: s.Schema()}).Migrate(ctx)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, s.Migrate(ctx))
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM `+quote(s.Schema())+`.schema_migrations`).Scan(&n))
	files, err := filepath.Glob("migrations/*.sql")
	require.NoError(t, err)
	assert.Equal(t, len(files), n, "each version applied once")

	// A fresh schema migrated by several instances at once.
	fresh := s.Schema() + "_b"
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+quote(fresh)+" CASCADE") })
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = pgstore.New(pool, &pgstore.Options{Schema: fresh}).Migrate(ctx)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

func TestInsertMessageTxRefusesOtherTypes(t *testing.T) {
	t.Parallel()
	s := newSchemaStore(t, testPool(t), nil)
	msg := &webhook.Message{ID: "msg_x", Type: "a.b", Payload: []byte(`{}`), CreatedAt: time.Now()}
	err := s.InsertMessageTx(context.Background(), nil, msg, nil)
	assert.ErrorIs(t, err, webhook.ErrTxUnsupported)

	// PublishTx with a transaction type the store does not take names both.
	d := newDispatcher(t, s, false, nil)
	_, err = webhook.PublishTx(context.Background(), d, "not a tx", orderPlaced{}, &webhook.PublishOpts{ID: "msg_x"})
	require.ErrorIs(t, err, webhook.ErrTxUnsupported)
	assert.Contains(t, err.Error(), "*pgstore.Store implements no TxInserter[string]")
	_, err = s.GetMessage(context.Background(), "msg_x")
	assert.ErrorIs(t, err, webhook.ErrNotFound, "nothing stored")
}

func TestMatchEndpoints(t *testing.T) {
	t.Parallel()
	s := newSchemaStore(t, testPool(t), nil)
	ctx := context.Background()
	now := time.Now()
	mk := func(id, tenant string, disabled bool, types ...string) {
		require.NoError(t, s.CreateEndpoint(ctx, &webhook.Endpoint{ID: id, Tenant: tenant, URL: "https://example.com/",
			Secret: "whsec_x", EventTypes: types, Disabled: disabled, CreatedAt: now, UpdatedAt: now}))
	}
	mk("all", "t", false)
	mk("star", "t", false, "*")
	mk("exact", "t", false, "reward.issued")
	mk("prefix", "t", false, "other", "reward.*")
	mk("deep", "t", false, "reward.tier.*")
	mk("nomatch", "t", false, "payment.*", "rewardissued")
	mk("off", "t", true)
	mk("elsewhere", "u", false)
	for _, tc := range []struct {
		typ  string
		want []string
	}{
		{"reward.issued", []string{"all", "exact", "prefix", "star"}},
		{"reward.tier.changed", []string{"all", "deep", "prefix", "star"}},
		{"payment.x", []string{"all", "nomatch", "star"}},
		{"rewardXissued", []string{"all", "star"}},
	} {
		eps, err := s.MatchEndpoints(ctx, webhook.MatchQuery{Tenant: "t", EventType: tc.typ})
		require.NoError(t, err)
		var got []string
		for _, ep := range eps {
			got = append(got, ep.ID)
		}
		assert.ElementsMatch(t, tc.want, got, tc.typ)
	}
}
