-- Consumer groups (Store.NewGroup): one consumer name whose work is split
-- into a fixed number of partitions by a stable hash of the stream, each
-- with its own checkpoint, handled by the group's live members.
--
-- eventlog_group_partitions holds each partition's checkpoint, like
-- eventlog_consumers does a consumer's: the (xid, position) up to which
-- the partition has read the log. partitions is the group's partition
-- count, fixed when the group first runs: a member started with another
-- count is refused, since the streams would map to other partitions and
-- their checkpoints would lose or double records.
CREATE TABLE eventlog_group_partitions (
    name        text NOT NULL,
    partition   int NOT NULL,
    partitions  int NOT NULL,
    xid         xid8 NOT NULL DEFAULT '0',
    position    bigint NOT NULL DEFAULT 0,
    handled     bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, partition),
    CONSTRAINT eventlog_group_partitions_partition CHECK (partition >= 0 AND partition < partitions)
);

-- eventlog_group_members lists each group's running members and their
-- lease: a member renews expires_at while it runs, so the live members are
-- those not expired whose session (pid, when the member has one) is still
-- there. Each member takes its fair share of the partitions from the
-- count of live members; held is how many it holds now. pid and
-- backend_start name the member's session, so that a live member can end
-- the session of one whose lease ran out: a frozen process, a paused VM or
-- a cut network keeps its session, and the partitions' advisory locks with
-- it, until TCP keepalive gives up, which can take hours; backend_start
-- tells a reused pid from the member's.
CREATE TABLE eventlog_group_members (
    name        text NOT NULL,
    member      text NOT NULL,
    pid         int,
    backend_start timestamptz,
    held        int NOT NULL DEFAULT 0,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (name, member)
);
