package eventlog

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/seatbelt-go/seatbelt/internal/ctxtime"
)

// MaxPartitions is the most partitions a consumer group may have: each is
// a row of the lag metrics (Store.Consumers counts each one's lag through
// the log's order index), and more partitions than members can ever use
// only spread the work finer. A few per member is enough.
const MaxPartitions = 32

// registerLockClass is the first key of the advisory lock ("evlr",
// hashtext(name)) that registering a group or a consumer takes for its
// transaction, so that a name cannot become both. A member holds each of
// its partitions by a session advisory lock on the 64-bit key
// partitionLock returns.
const registerLockClass = 0x65766c72

// groupWindow bounds the log records one partition batch reads past (its
// own and the other partitions'): BatchSize times the partition count, at
// most this many unless BatchSize is larger.
const groupWindow = 10000

// partitionSQL is the partition of the record aliased r in a group of
// partitionsSQL partitions: PostgreSQL's extended text hash of the stream
// name, the one its hash partitioning and hash indexes use, so it stays
// the same across server versions and pg_upgrade.
func partitionSQL(r, partitions string) string {
	return `(hashtextextended(` + r + `.stream_type || '/' || ` + r + `.stream_id, 0) & 9223372036854775807) % ` + partitions
}

// groupFetchSQL reads the log after the earliest checkpoint of a member's
// partitions ($1, $2), a window of at most $3 records of any partition in
// delivery order, and returns the records below the fence of the
// partitions $4 (of $7), each after its partition's checkpoint ($5, $6),
// with their partition; then one summary row (summary true): how many
// records the window held, whether one was above the fence, and the last
// one below it (its position in the position column, its xid in last_xid;
// NULL when none), whichever partition it is in. The other partitions'
// records stay in the server: the summary reads the window again through
// the index alone, and sorts nothing (xid8 comparisons are slow):
// below-the-fence records are the window's prefix, so the last of them
// has the greatest xid, and of those the greatest position.
var groupFetchSQL = `WITH v AS MATERIALIZED (
	SELECT xid, position, xid < ` + fenceSQL + ` AS below FROM eventlog_records
	WHERE (xid, position) > ($1::text::xid8, $2::bigint) ORDER BY xid, position LIMIT $3),
s AS (SELECT count(*) AS n, coalesce(bool_or(NOT below), false) AS held, max(xid) FILTER (WHERE below) AS x FROM v)
SELECT position, xid::text::bigint, stream_type, stream_id, version, record_id, data, metadata,
	recorded_at, writer, trace_id, span_id, actor, reason, revert_of, w.part::int, false AS summary, NULL::text AS last_xid, 0::bigint AS scanned, false AS held
FROM (SELECT r.*, r.xid < ` + fenceSQL + ` AS below, ` + partitionSQL("r", "$7::bigint") + ` AS part
	FROM eventlog_records r WHERE (r.xid, r.position) > ($1::text::xid8, $2::bigint)
	ORDER BY r.xid, r.position LIMIT $3) w
JOIN unnest($4::int[], $5::text[], $6::bigint[]) AS c(part, cxid, cpos)
	ON c.part = w.part AND (w.xid, w.position) > (c.cxid::xid8, c.cpos)
WHERE w.below
UNION ALL
SELECT coalesce((SELECT max(position) FROM v WHERE below AND v.xid = s.x), 0), 0, '', '', 0, '', NULL, NULL,
	now(), '', '', '', '', '', NULL, 0, true, s.x::text, s.n, s.held
FROM s`

// Group is a consumer group: one consumer name whose records are split
// into a fixed number of partitions by stream, each partition delivered in
// order to one member at a time. Run it in every replica, as many
// instances as wanted: the live members share the partitions.
type Group struct {
	store        *Store
	name         string
	partitions   int
	handler      Handler
	cfg          ConsumerConfig
	running      atomic.Bool
	pooledLogged atomic.Bool
	// partitionKeys are the partitions' advisory lock keys, in order.
	partitionKeys []int64
}

// NewGroup returns the consumer group named name, whose streams are split
// into partitions partitions (1 to [MaxPartitions]); Run starts a member.
// cfg tunes each member as it does a [Consumer], with Lease and
// OnPartitions besides. The partition count is the group's for good: a
// member started with another count is refused when it runs.
//
// Handlers run in parallel across partitions: one that writes a row
// shared by streams of different partitions must lock it. A record the
// handler keeps failing on stops the whole group, not only its partition:
// its member returns a [*HandlerError], and the members that take its
// partitions fail on it in turn (see the package documentation). Members
// end the session of a member whose lease ran out (a frozen process), so
// they must run as one role, or as a role with pg_signal_backend and
// pg_read_all_stats.
func (s *Store) NewGroup(name string, partitions int, h Handler, cfg *ConsumerConfig) (*Group, error) {
	if partitions < 1 || partitions > MaxPartitions {
		return nil, fmt.Errorf("%w: consumer group %q has %d partitions; use 1 to %d (eventlog.MaxPartitions), a few per member you mean to run", ErrInvalidConfig, name, partitions, MaxPartitions)
	}
	var lease time.Duration
	if cfg != nil {
		lease = cfg.Lease
	}
	if lease < 0 {
		return nil, fmt.Errorf("%w: ConsumerConfig.Lease is %s; use a positive duration, or 0 for the default (10s)", ErrInvalidConfig, lease)
	}
	c, err := s.NewConsumer(name, h, cfg)
	if err != nil {
		return nil, err
	}
	cc := c.cfg
	if lease == 0 {
		cc.Lease = max(10*time.Second, 3*cc.TakeoverPoll)
	}
	// A member renews its lease every TakeoverPoll: a lease barely longer
	// runs out on one slow renewal, and the others end a live member's
	// session.
	if cc.Lease < 2*cc.TakeoverPoll {
		return nil, fmt.Errorf("%w: ConsumerConfig.Lease (%s) must be at least twice TakeoverPoll (%s), which is how often a member renews it; set Lease to %s or more, or to 0 for the default (10s, or 3 TakeoverPolls if that is longer)", ErrInvalidConfig, cc.Lease, cc.TakeoverPoll, 2*cc.TakeoverPoll)
	}
	// The lease is also the batch's idle_in_transaction_session_timeout,
	// whole milliseconds of an int32: past that every batch fails, and
	// under a millisecond it would turn the timeout off.
	if maxLease := time.Duration(math.MaxInt32) * time.Millisecond; cc.Lease < time.Millisecond || cc.Lease > maxLease {
		return nil, fmt.Errorf("%w: ConsumerConfig.Lease is %s; use 1ms to %s (the server's idle_in_transaction_session_timeout holds it), or 0 for the default (10s)", ErrInvalidConfig, cc.Lease, maxLease)
	}
	keys := make([]int64, partitions)
	for p := range keys {
		keys[p] = partitionLock(name, p)
	}
	return &Group{store: s, name: name, partitions: partitions, handler: h, cfg: cc, partitionKeys: keys}, nil
}

// Name returns the group's name.
func (g *Group) Name() string { return g.name }

// Partitions returns the group's partition count.
func (g *Group) Partitions() int { return g.partitions }

// Run runs a member of the group until ctx is done (it returns nil) or the
// handler keeps failing on a record (it returns a [*HandlerError]). The
// member takes its share of the partitions and delivers their records,
// giving partitions up when members join and taking more when they leave.
// If its session is lost, or a statement of its own fails on a passing
// error (as for [Consumer.Run]), it drops its partitions and starts again
// after TakeoverPoll.
func (g *Group) Run(ctx context.Context) error {
	if !g.running.CompareAndSwap(false, true) {
		return ErrConsumerRunning
	}
	defer g.running.Store(false)
	m := &member{g: g, id: memberID(), held: []int{}}
	m.log = g.cfg.Logger.With("member", m.id)
	defer m.leave()
	return runAgain(ctx, registeredFirst(g.register, m.runOnce), ctxtime.Sleep, g.cfg.TakeoverPoll, m.log, "eventlog: group member lost its connection or hit a passing database error; starting again")
}

// register creates the group's partition checkpoints, or checks that the
// group has the partition count this member was given.
func (g *Group) register(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, g.store.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, registerLockClass, g.name); err != nil {
			return err
		}
		var consumer bool
		var have, rows int
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM eventlog_consumers WHERE name = $1),
			coalesce((SELECT max(partitions) FROM eventlog_group_partitions WHERE name = $1), 0),
			(SELECT count(*) FROM eventlog_group_partitions WHERE name = $1 AND partitions = $2)`, g.name, g.partitions).Scan(&consumer, &have, &rows)
		if err != nil {
			return err
		}
		switch {
		case consumer:
			return fmt.Errorf("%w: %q names a consumer (Store.NewConsumer), whose checkpoint is one for the whole log; name the group otherwise (it starts from the beginning of the log)", ErrInvalidConfig, g.name)
		case have == 0:
			_, err := tx.Exec(ctx, `INSERT INTO eventlog_group_partitions (name, partition, partitions)
				SELECT $1, p, $2 FROM generate_series(0, $2 - 1) p`, g.name, g.partitions)
			return err
		case have == g.partitions && rows != g.partitions:
			return fmt.Errorf("eventlog: consumer group %q has %d of its %d partition checkpoints (deleted by hand?); restore them from a backup, or run the group under a new name (it starts from the beginning of the log)", g.name, rows, have)
		case have != g.partitions || rows != g.partitions:
			return fmt.Errorf("%w: consumer group %q has %d partitions, and this member was given %d: streams would move to other partitions, whose checkpoints would skip or repeat their records; keep %d, or run the group under a new name (it starts from the beginning of the log)",
				ErrInvalidConfig, g.name, have, g.partitions, have)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrInvalidConfig) {
		return fmt.Errorf("eventlog: registering consumer group %q: %w", g.name, err)
	}
	return err
}

// memberID names a member: host, process and a random part, so members in
// one process differ.
func memberID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", cmp.Or(host, "host"), os.Getpid(), hex.EncodeToString(b))
}

// member is one running instance of a group.
type member struct {
	g    *Group
	id   string
	log  *slog.Logger
	held []int // partitions held, in order
	// conn is the session holding the partitions' locks and LISTENing,
	// or nil without one (behind a pooler).
	conn *pgx.Conn
	// backendStart is conn's backend_start, read on conn itself: another
	// role's connection sees it as NULL in pg_stat_activity without
	// pg_read_all_stats, and a lease row without it can never be found
	// stale, so a frozen member's session would never be ended.
	backendStart *time.Time
	// directChecked: a session on Config.Direct reached the pool's
	// database (see connectSession).
	directChecked bool
}

// leave deletes the member's lease, so the others count it gone at once.
func (m *member) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.g.store.pool.Exec(ctx, `DELETE FROM eventlog_group_members WHERE name = $1 AND member = $2`, m.g.name, m.id)
}

func (m *member) runOnce(ctx context.Context) error {
	g := m.g
	m.setHeld(nil)
	cc, err := g.store.sessionConfig(ctx, g.cfg.Logger)
	if err != nil {
		return err
	}
	poll := cmp.Or(g.cfg.PollInterval, pollOnly)
	if cc == nil {
		if g.pooledLogged.CompareAndSwap(false, true) {
			m.log.Warn("eventlog: the pool goes through a connection pooler, which keeps no session: group member runs without partition locks and LISTEN, polling every poll_interval; members split the partitions by their leases and take turns under each partition's checkpoint lock while they change hands; set Config.Direct to a direct connection for locks and wake-ups",
				"poll_interval", poll)
		}
		m.conn = nil
	} else {
		conn, err := g.store.connectSession(ctx, cc, &m.directChecked)
		if err != nil {
			return err
		}
		defer func() {
			m.conn, m.backendStart = nil, nil
			closeSession(conn)
		}()
		if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
			return fmt.Errorf("%w: %v", errLostLock, err)
		}
		var start time.Time
		if err := conn.QueryRow(ctx, `SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()`).Scan(&start); err != nil {
			return fmt.Errorf("%w: %v", errLostLock, err)
		}
		m.conn, m.backendStart = conn, &start
		poll = cmp.Or(g.cfg.PollInterval, pollWithListen)
	}
	return m.consume(ctx, poll)
}

// consume is the member's loop: rebalance every TakeoverPoll, and between
// rebalances batches of the partitions held.
func (m *member) consume(ctx context.Context, poll time.Duration) error {
	g := m.g
	// most is the most records a batch takes: BatchSize, or fewer once a
	// batch's transaction outlived the Lease across its handler calls. It
	// stays down while the handler is that slow, since a batch that
	// outlives the Lease rolls back all it did: it doubles again only after
	// shrinkHold full batches have succeeded at it.
	most, fullAtMost := g.cfg.BatchSize, 0
	limit := most
	var failing retries
	var nextTick time.Time
	fenceWait := time.Duration(0)
	for {
		if !time.Now().Before(nextTick) {
			if err := m.rebalance(ctx); err != nil {
				return err
			}
			nextTick = time.Now().Add(g.cfg.TakeoverPoll)
		}
		var b groupBatchResult
		if len(m.held) > 0 {
			var err error
			if b, err = m.batchRenewing(ctx, limit); err != nil {
				return err
			}
		}
		if b.shrink > 0 {
			m.log.Warn("eventlog: a batch's transaction ended while the handler ran: idle past the lease across its calls (slow work outside the database with the transaction open), or a lost connection; handling fewer records at a time",
				"records", b.shrink, "lease", g.cfg.Lease, "err", b.ended)
			most, fullAtMost = b.shrink, 0
			limit = most
			continue
		}
		if b.herr != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			next, wait, err := failing.failed(g.name, &g.cfg, b.bad, b.herr, b.n)
			if err != nil {
				return err
			}
			m.log.Warn("eventlog: handler failed; retrying", "partition", b.badPartition, "stream", b.bad.Stream.String(), "version", b.bad.Version,
				"position", b.bad.Position, "attempt", failing.attempts, "err", b.herr)
			if wait > 0 {
				if err := ctxtime.Sleep(ctx, wait); err != nil {
					return err
				}
			}
			limit = next
			continue
		}
		full := len(m.held) > 0 && b.n == limit
		if full && limit == most && most < g.cfg.BatchSize {
			if fullAtMost++; fullAtMost >= shrinkHold {
				most, fullAtMost = min(2*most, g.cfg.BatchSize), 0
			}
		}
		limit = most
		if full || b.moved || b.more {
			continue
		}
		wait := max(min(nextWait(b.heldBack, &fenceWait, poll), time.Until(nextTick)), 0)
		if err := waitWake(ctx, m.conn, wait, ctxtime.Sleep); err != nil {
			return err
		}
	}
}

// shrinkHold is how many full batches must succeed at a reduced
// batch size before it doubles again (see member.consume): a handler slow
// for good loses one batch's work every shrinkHold batches or so, one slow
// for a while gets back to BatchSize.
const shrinkHold = 16

// otherMember is another member as its lease row says: a live one, or
// (stale) one whose lease ran out while the server still has its session.
type otherMember struct {
	id    string
	held  int
	stale bool
	// hidden: stale, and a session with its pid is there, but this
	// member's role may not see whose (backend_start is NULL to it).
	hidden bool
}

// batchLockSQL is the key of the transaction advisory lock (shared) that
// the batch of member (a SQL text expression) of group name holds: the
// others find its backend by it in pg_locks, which every role may read,
// for as long as the batch's transaction runs, and no longer.
func batchLockSQL(name, member string) string {
	return `hashtextextended('eventlog batch ' || ` + name + ` || ' ' || ` + member + `, 0)`
}

// heldKeysSQL selects, from pg_locks l, the advisory locks on a 64-bit
// key held in this database; lockKeySQL is such a lock's key, its two
// halves put back together (bigint's << wraps, so negative keys too).
const (
	heldKeysSQL = `l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
	AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`
	lockKeySQL = `((l.classid::text::bigint << 32) | l.objid::text::bigint)`
)

// batchPidsSQL lists the backends running a batch of member m.
var batchPidsSQL = `SELECT l.pid FROM pg_locks l WHERE ` + heldKeysSQL + ` AND ` + lockKeySQL + ` = ` + batchLockSQL("m.name", "m.member")

// staleSQL: member m's lease ran out while its session (the same pid and
// backend_start) is still there, holding its partitions' locks, or
// (hidden) a session with its pid is there whose backend_start this role
// may not read, or a batch of it runs on, holding its checkpoints' row
// locks.
var staleSQL = `m.expires_at <= now() AND (
	EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = m.pid AND (a.backend_start = m.backend_start OR a.backend_start IS NULL))
	OR EXISTS (` + batchPidsSQL + `))`

// ownedSQL: member m's own session (its pid with its backend_start, or
// its pid holding one of the group's partition locks $7) or a batch of it
// is still there. Unlike staleSQL it does not take any session with its
// pid whose backend_start this role may not read (without
// pg_read_all_stats, every other role's): a dead member's pid reused by
// one of them would keep its row for as long as that session lives. The
// locks tell, and pg_locks is every role's to read.
var ownedSQL = `EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = m.pid AND a.backend_start = m.backend_start)
	OR EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = m.pid AND ` + heldKeysSQL + ` AND ` + lockKeySQL + ` = ANY($7::bigint[]))
	OR EXISTS (` + batchPidsSQL + `)`

// heartbeatSQL renews the member's lease ($2; $3 its session's pid and
// $6 its backend_start, $4 the partitions it holds, $5 the lease in
// seconds; $7 the group's partition lock keys), forgets members whose
// lease ran out long ago, and lists the other members: the live ones,
// whose lease runs and whose session, if they said they had one, the
// server still has; and the stale ones (see
// staleSQL). A stale member's row stays, however long ago its lease ran
// out, while its own session or a batch of it is there (ownedSQL): it is
// how the others find them, to end them or to say they cannot. Otherwise
// it goes ten leases after it ran out.
var heartbeatSQL = `WITH me AS (
	INSERT INTO eventlog_group_members (name, member, pid, backend_start, held, expires_at)
	VALUES ($1, $2, $3, $6::timestamptz, $4, now() + $5::float8 * interval '1 second')
	ON CONFLICT (name, member) DO UPDATE SET pid = excluded.pid, backend_start = excluded.backend_start, held = excluded.held, expires_at = excluded.expires_at
), gone AS (
	DELETE FROM eventlog_group_members m
	WHERE m.name = $1 AND m.member <> $2 AND m.expires_at < now() - 10 * $5::float8 * interval '1 second' AND NOT (` + ownedSQL + `)
)
SELECT m.member, m.held, m.expires_at <= now() AS stale,
	m.expires_at <= now() AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = m.pid AND a.backend_start IS NULL) AS hidden
FROM eventlog_group_members m
WHERE m.name = $1 AND m.member <> $2 AND (
	m.expires_at > now() AND (m.pid IS NULL OR EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = m.pid))
	OR ` + staleSQL + `)
ORDER BY m.member`

// renewSQL extends member $2's lease by $3 seconds.
const renewSQL = `UPDATE eventlog_group_members SET expires_at = now() + $3::float8 * interval '1 second' WHERE name = $1 AND member = $2`

// batchRenewing runs a batch of the held partitions while renewing the
// member's lease every TakeoverPoll. The lease is otherwise renewed
// between batches, and a batch may outlast it (a backlog of slow records
// at 4 AM: 500 records of 25 ms are 12.5 s, past the default 10 s): the
// other members would find this one stale, end its session, and the
// partitions would move back and forth, each new owner waiting on the
// last one's row locks. A frozen process renews nothing, so its lease
// still runs out.
func (m *member) batchRenewing(ctx context.Context, limit int) (groupBatchResult, error) {
	g := m.g
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(g.cfg.TakeoverPoll)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				rctx, cancel := context.WithTimeout(ctx, g.cfg.TakeoverPoll)
				_, err := g.store.pool.Exec(rctx, renewSQL, g.name, m.id, g.cfg.Lease.Seconds())
				cancel()
				if err != nil {
					m.log.Warn("eventlog: renewing the lease during a batch failed; the next renewal tries again", "err", err)
				}
			}
		}
	}()
	b, err := g.batch(ctx, m.id, m.held, limit)
	close(stop)
	<-stopped
	return b, err
}

// terminateSQL ends the session of member $2, and the backends running a
// batch of it, if its lease has still run out and the session is still
// its own. Its session alone would free its partitions' locks, but not
// the checkpoints' row locks of a batch whose transaction is not idle (a
// statement running, or the server blocked writing to the frozen
// member), which idle_in_transaction_session_timeout does not end: the
// partitions' next owners would wait on them.
var terminateSQL = `SELECT pg_terminate_backend(p.pid) FROM eventlog_group_members m CROSS JOIN LATERAL (
	SELECT a.pid FROM pg_stat_activity a WHERE a.pid = m.pid AND a.backend_start = m.backend_start
	UNION ` + batchPidsSQL + `) p
WHERE m.name = $1 AND m.member = $2 AND m.expires_at <= now()`

// rebalance renews the member's lease and brings the partitions it holds
// to its share. With n live members and p partitions each holds p/n, and
// p%n of them one more; a member holding the one more gives it up while
// another holds fewer than p/n, so a member that joins gets its share
// within a TakeoverPoll or two of the others seeing it. With a session
// the partitions are advisory locks, tried and released between batches;
// without one, the members split the partitions by their order.
func (m *member) rebalance(ctx context.Context) error {
	g := m.g
	var pid *int32
	if m.conn != nil {
		p := int32(m.conn.PgConn().PID())
		pid = &p
	}
	rows, err := g.store.pool.Query(ctx, heartbeatSQL, g.name, m.id, pid, len(m.held), g.cfg.Lease.Seconds(), m.backendStart, g.partitionKeys)
	if err != nil {
		return fmt.Errorf("eventlog: renewing the lease of a member of %q: %w", g.name, err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (otherMember, error) {
		var o otherMember
		err := r.Scan(&o.id, &o.held, &o.stale, &o.hidden)
		return o, err
	})
	if err != nil {
		return fmt.Errorf("eventlog: renewing the lease of a member of %q: %w", g.name, err)
	}
	var others []otherMember
	for _, o := range all {
		if !o.stale {
			others = append(others, o)
			continue
		}
		if o.hidden {
			m.log.Error("eventlog: a group member's lease ran out while a session with its pid lives on, and this member's role may not see whether the session is that member's: its partitions may wait until its session ends; run members as one role, or grant the role pg_read_all_stats and pg_signal_backend",
				"stale_member", o.id)
			continue
		}
		// A member whose lease ran out but whose session or batch lives on
		// (a frozen process, a cut network) would hold its partitions until
		// TCP keepalive gives up: end them, so their locks go. If it wakes,
		// its session's loss sends it back to the start.
		m.log.Warn("eventlog: ending the session and batches of a group member whose lease ran out", "stale_member", o.id)
		if _, err := g.store.pool.Exec(ctx, terminateSQL, g.name, o.id); err != nil {
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
				return fmt.Errorf("eventlog: ending the session of member %s of %q: %w", o.id, g.name, err)
			}
			m.log.Error("eventlog: cannot end the session of a group member whose lease ran out: its partitions wait until its session ends; run members as one role, or grant the role pg_signal_backend",
				"stale_member", o.id, "err", err)
		}
	}
	n := len(others) + 1
	if m.conn == nil {
		ids := []string{m.id}
		for _, o := range others {
			ids = append(ids, o.id)
		}
		slices.Sort(ids)
		i := slices.Index(ids, m.id)
		var held []int
		for p := i; p < g.partitions; p += n {
			held = append(held, p)
		}
		m.setHeld(held)
		return nil
	}
	if err := m.checkLocks(ctx); err != nil {
		return err
	}
	base, extra := g.partitions/n, g.partitions%n
	needy := false
	for _, o := range others {
		needy = needy || o.held < base
	}
	share := base
	if extra > 0 && !needy {
		share++
	}
	held := slices.Clone(m.held)
	for len(held) > share {
		p := held[len(held)-1]
		if _, err := m.conn.Exec(ctx, `SELECT pg_advisory_unlock($1::bigint)`, partitionLock(g.name, p)); err != nil {
			return fmt.Errorf("%w: %v", errLostLock, err)
		}
		held = held[:len(held)-1]
	}
	start := memberOffset(m.id, g.partitions)
	for i := 0; i < g.partitions && len(held) < share; i++ {
		p := (start + i) % g.partitions
		if slices.Contains(held, p) {
			continue
		}
		var ok bool
		if err := m.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1::bigint)`, partitionLock(g.name, p)).Scan(&ok); err != nil {
			return fmt.Errorf("%w: %v", errLostLock, err)
		}
		if ok {
			held = append(held, p)
		}
	}
	slices.Sort(held)
	m.setHeld(held)
	return nil
}

// partitionLock is the key of partition p's session advisory lock (see
// sessionLockKey).
func partitionLock(name string, p int) int64 {
	return sessionLockKey("eventlog partition", name, strconv.Itoa(p))
}

// consumerLock is the key of the session advisory lock the active
// instance of consumer name holds (see sessionLockKey).
func consumerLock(name string) int64 {
	return sessionLockKey("eventlog consumer", name)
}

// sessionLockKey is the key of a session advisory lock named by parts
// (what it is, then whose): a 64-bit FNV-1a hash of them, NUL-separated.
// Two names (of any consumers or partitions) share a lock, leaving one
// unlockable while the other is held, once in about 2^32 pairs rather
// than once in about 2^16 with a 32-bit hashtext: a consumer whose name
// collided with another's stayed on standby for ever. The hash is
// computed here, not by the server, so it stays the same across server
// versions; changing it moves every lock, and old and new instances of a
// deploy would not see each other's.
func sessionLockKey(parts ...string) int64 {
	h := fnv.New64a()
	h.Write([]byte(strings.Join(parts, "\x00")))
	return int64(h.Sum64())
}

// checkLocks asks the member's session which partition locks it holds and
// drops from m.held those it lost, so that a member does not go on
// batching partitions that are no longer its own; a session that does not
// answer is lost, and the member starts again.
func (m *member) checkLocks(ctx context.Context) error {
	rows, err := m.conn.Query(ctx, `SELECT `+lockKeySQL+` FROM pg_locks l WHERE l.pid = pg_backend_pid() AND `+heldKeysSQL)
	if err != nil {
		return fmt.Errorf("%w: %v", errLostLock, err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("%w: %v", errLostLock, err)
	}
	held := slices.DeleteFunc(slices.Clone(m.held), func(p int) bool {
		return !slices.Contains(keys, partitionLock(m.g.name, p))
	})
	if len(held) != len(m.held) {
		m.log.Warn("eventlog: group member lost partition locks", "held", m.held, "still_held", held)
		m.setHeld(held)
	}
	return nil
}

// memberOffset is where a member starts looking for free partitions, so
// members starting together try different ones first.
func memberOffset(id string, partitions int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(partitions))
}

// setHeld records the partitions held, reporting a change.
func (m *member) setHeld(held []int) {
	if held == nil {
		held = []int{}
	}
	if slices.Equal(held, m.held) {
		return
	}
	was := len(m.held)
	m.held = held
	m.log.Info("eventlog: group member's partitions changed", "partitions", held)
	if m.g.cfg.OnPartitions != nil {
		m.g.cfg.OnPartitions(slices.Clone(held))
	}
	if was == 0 && len(held) > 0 && m.g.cfg.OnActive != nil {
		m.g.cfg.OnActive()
	}
}

// groupBatchResult is what one batch of a member did.
type groupBatchResult struct {
	batchResult
	badPartition int  // the partition of the record the handler failed on
	more         bool // the read stopped at its window, not at the fence or the end
	// shrink, when set, is how many records to take next: the batch's
	// transaction was ended after the handler's calls together, none alone,
	// ran longer than the lease (see idleTooLong). Nothing was written.
	shrink int
	// ended is that ending, to log.
	ended error
}

// checkpoint is where a partition has read the log up to.
type checkpoint struct {
	xid uint64
	pos int64
}

func (c checkpoint) less(d checkpoint) bool {
	return c.xid < d.xid || (c.xid == d.xid && c.pos < d.pos)
}

// partitionRecord is a record and its partition.
type partitionRecord struct {
	r    *Record
	part int
}

// batch handles up to limit records of the partitions parts, in order, in
// one transaction with their checkpoints. As a consumer's batch, it reads
// before its transaction takes an xid, then locks the checkpoint rows and
// checks they did not move.
//
// The read walks the log in delivery order from the earliest of the
// checkpoints, behind the same fence as a consumer: only records whose
// writing transaction ended before the read's snapshot, a set that is
// final when read. Each partition's checkpoint then moves past the last
// record handled, or, when fewer than limit records were the partitions',
// past the last record of the window below the fence, whichever partition
// it is in: nothing can appear before it later, so a partition with few
// records does not read the others' again. A member reads the log once
// for all its partitions.
func (g *Group) batch(ctx context.Context, member string, parts []int, limit int) (res groupBatchResult, err error) {
	ctx, span := g.store.tracer.Start(ctx, "eventlog.consume")
	defer func() {
		span.SetAttributes(attribute.String("eventlog.consumer", g.name), attribute.IntSlice("eventlog.partitions", parts), attribute.Int("eventlog.records", res.n))
		if e := errors.Join(res.herr, err); e != nil {
			span.RecordError(e)
			span.SetStatus(codes.Error, e.Error())
		}
		span.End()
	}()
	tx, err := g.store.pool.Begin(ctx)
	if err != nil {
		return res, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// A member frozen mid-batch would hold its checkpoints' row locks, and
	// its partitions with them, until its connection is found dead; the
	// server ends a transaction left idle longer than the lease, and the
	// batch lock lets the others find and end one that is not idle (a
	// statement running, or the server blocked writing to the frozen
	// client).
	if _, err := tx.Exec(ctx, `SELECT set_config('idle_in_transaction_session_timeout', $1, true), pg_advisory_xact_lock_shared(`+batchLockSQL("$2::text", "$3::text")+`)`,
		strconv.FormatInt(g.cfg.Lease.Milliseconds(), 10), g.name, member); err != nil {
		return res, err
	}
	const partitionsSQL = `SELECT partition, xid::text, position FROM eventlog_group_partitions WHERE name = $1 AND partition = ANY($2::int[]) ORDER BY partition`
	held := make([]int32, len(parts))
	for i, p := range parts {
		held[i] = int32(p)
	}
	readCheckpoints := func(sql string) (map[int]checkpoint, error) {
		rows, err := tx.Query(ctx, sql, g.name, held)
		if err != nil {
			return nil, err
		}
		cps := map[int]checkpoint{}
		for rows.Next() {
			var p int
			var xid string
			var c checkpoint
			if err := rows.Scan(&p, &xid, &c.pos); err != nil {
				rows.Close()
				return nil, err
			}
			if c.xid, err = strconv.ParseUint(xid, 10, 64); err != nil {
				rows.Close()
				return nil, err
			}
			cps[p] = c
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(cps) != len(parts) {
			return nil, fmt.Errorf("%d of the %d partitions' checkpoints are there: %w", len(cps), len(parts), errCheckpointGone)
		}
		return cps, nil
	}
	cps, err := readCheckpoints(partitionsSQL)
	if err != nil {
		return res, fmt.Errorf("eventlog: reading the checkpoints of %q partitions %v: %w", g.name, parts, err)
	}
	from := cps[parts[0]]
	cxids, cposs := make([]string, len(parts)), make([]int64, len(parts))
	for i, p := range parts {
		c := cps[p]
		if c.less(from) {
			from = c
		}
		cxids[i], cposs[i] = strconv.FormatUint(c.xid, 10), c.pos
	}
	window := max(min(limit*g.partitions/len(parts), groupWindow), limit)
	rows, err := tx.Query(ctx, groupFetchSQL, strconv.FormatUint(from.xid, 10), from.pos, window, held, cxids, cposs, g.partitions)
	if err != nil {
		return res, fmt.Errorf("eventlog: reading records for %q partitions %v: %w", g.name, parts, err)
	}
	var recs []partitionRecord
	var scanned int64
	var lastXid *string
	var lastPos int64
	for rows.Next() {
		var part int
		var summary, heldBack bool
		var xid *string
		var n int64
		r, err := scanRecordPlus(rows, &part, &summary, &xid, &n, &heldBack)
		if err != nil {
			rows.Close()
			return res, fmt.Errorf("eventlog: reading records for %q partitions %v: %w", g.name, parts, err)
		}
		if summary {
			scanned, lastXid, lastPos, res.heldBack = n, xid, r.Position, heldBack
			continue
		}
		recs = append(recs, partitionRecord{r, part})
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("eventlog: reading records for %q partitions %v: %w", g.name, parts, err)
	}
	slices.SortFunc(recs, func(a, b partitionRecord) int {
		return cmp.Or(cmp.Compare(a.r.TxID, b.r.TxID), cmp.Compare(a.r.Position, b.r.Position))
	})
	// The checkpoints move past the last record handled, or when fewer
	// than limit were the partitions', past the window's last record below
	// the fence.
	var to checkpoint
	switch {
	case len(recs) >= limit:
		recs = recs[:limit]
		last := recs[limit-1].r
		to = checkpoint{last.TxID, last.Position}
	case lastXid != nil:
		x, err := strconv.ParseUint(*lastXid, 10, 64)
		if err != nil {
			return res, err
		}
		to = checkpoint{x, lastPos}
		// The window was full and all below the fence: the log may go on.
		res.more = scanned == int64(window) && !res.heldBack
	default:
		return res, nil
	}
	locked, err := readCheckpoints(partitionsSQL + ` FOR UPDATE`)
	if err != nil {
		return res, fmt.Errorf("eventlog: locking the checkpoints of %q partitions %v: %w", g.name, parts, err)
	}
	for _, p := range parts {
		if locked[p] != cps[p] {
			res.moved = true
			return res, nil
		}
	}
	handled := map[int]int64{}
	// The handler's slowest call, to blame when the server ends the
	// transaction for idling longer than the lease, and the time spent in
	// all its calls, and how many. Without a call (only checkpoints to
	// move) the idling was the member's: a freeze.
	slowest, slow, spent, calls := time.Duration(-1), 0, time.Duration(0), 0
	idle := func(err error) bool {
		if slowest < 0 {
			return false
		}
		switch g.idleTooLong(err, slowest, spent, tx.Conn().IsClosed()) {
		case idleHandler:
			res.n, res.bad, res.badPartition = slow, recs[slow].r, recs[slow].part
			res.herr = fmt.Errorf("eventlog: the handler held the batch's transaction idle longer than ConsumerConfig.Lease (%s), and the server ended it (idle_in_transaction_session_timeout; its calls took %s, the slowest %s): do slow work that is not the database's outside the handler (after the batch, or from a job), or set ConsumerConfig.Lease above the longest the handler leaves the transaction idle (%v)",
				g.cfg.Lease, spent.Round(time.Millisecond), slowest.Round(time.Millisecond), err)
			return true
		case idleCalls:
			res.n, res.shrink, res.ended = 0, max(1, calls/2), err
			return true
		}
		return false
	}
	for i, pr := range recs {
		calls++
		start := time.Now()
		herr := g.handler(ctx, tx, pr.r)
		d := time.Since(start)
		if spent += d; d > slowest {
			slowest, slow = d, i
		}
		if herr != nil {
			if !idle(herr) {
				res.n, res.bad, res.badPartition, res.herr = i, pr.r, pr.part, herr
			}
			return res, nil
		}
		handled[pr.part]++
	}
	var ups []int32
	var upXids []string
	var upPoss, upNs []int64
	for _, p := range parts {
		if c := cps[p]; c.less(to) || handled[p] > 0 {
			ups = append(ups, int32(p))
			upXids, upPoss, upNs = append(upXids, strconv.FormatUint(to.xid, 10)), append(upPoss, to.pos), append(upNs, handled[p])
		}
	}
	if len(ups) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE eventlog_group_partitions p SET xid = u.xid::xid8, position = u.pos, handled = p.handled + u.n, updated_at = now()
			FROM unnest($2::int[], $3::text[], $4::bigint[], $5::bigint[]) AS u(part, xid, pos, n) WHERE p.name = $1 AND p.partition = u.part`,
			g.name, ups, upXids, upPoss, upNs); err != nil {
			if idle(err) {
				return res, nil
			}
			return res, fmt.Errorf("eventlog: storing the checkpoints of %q partitions %v: %w", g.name, parts, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		if idle(err) {
			return res, nil
		}
		return res, fmt.Errorf("eventlog: committing a batch of %q partitions %v: %w", g.name, parts, err)
	}
	res.n = len(recs)
	return res, nil
}

// idleCause is what idleTooLong makes of a batch's failure.
type idleCause int

const (
	idleNone    idleCause = iota // not the handler's: a lost connection
	idleHandler                  // one handler call held the transaction idle
	idleCalls                    // the handler's calls together did
)

// idleTooLong says whether err, a batch's failure after its handler ran
// (slowest its slowest call, spent the time in all its calls; closed,
// whether the transaction's connection is closed), is the server ending
// the transaction for idling longer than the lease because of the handler:
// slow work that is not the database's with the transaction open, in one
// call or across many (the server counts the idle time from one statement
// to the next). Taken for a lost connection, the member would retry the
// batch for ever. The server says so (25P03), or only closes the
// connection: behind PgBouncer, or when the handler swallowed the error.
//   - One call as long as the lease: the handler's error, on its record,
//     with the attempts and the shrinking of any handler error.
//   - The calls together: a smaller batch, without using an attempt; a
//     connection lost for another reason during a long batch costs only
//     that.
//   - Calls too short together: the member stalled between them (a GC
//     pause, SIGSTOP, a throttled container), or the connection was lost.
func (g *Group) idleTooLong(err error, slowest, spent time.Duration, closed bool) idleCause {
	var pgErr *pgconn.PgError
	if !(errors.As(err, &pgErr) && pgErr.Code == "25P03") && !closed {
		return idleNone
	}
	switch {
	case slowest >= g.cfg.Lease:
		return idleHandler
	case spent >= g.cfg.Lease:
		return idleCalls
	}
	return idleNone
}
