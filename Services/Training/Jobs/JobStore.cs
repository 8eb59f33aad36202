using Google.Protobuf;
using MsSwift.Contracts.V1;
using StackExchange.Redis;

namespace MsSwift.Training.Jobs;

/// <summary>A job's committed progress: the parameter version and the checkpoint that holds it, with the fencing token that committed it.</summary>
public sealed record CommittedStep(long FencingToken, long Version, string Checkpoint);

/// <summary>A job as stored: its request, status and revision, who leads it (fencing token and address), and whether someone asked to cancel it.</summary>
public sealed record JobRecord(TrainRequest Request, TrainStatus Status, long Revision, long Fence, string Leader, bool CancelRequested);

/// <summary>
/// Training jobs in Redis, one hash per job: request, status, revision, the leader's fencing token
/// and address, the committed checkpoint and a cancel request. Every write the leader makes
/// (status, membership, checkpoint commits) carries its fencing token, and a script refuses it
/// when a higher token has written: a deposed leader (paused, partitioned) can change nothing
/// once its successor wrote. The same script queues the change's event in the outbox
/// (<see cref="TrainingEventOutbox"/>) and announces the new revision on the job's channel
/// (<see cref="JobChanges"/>), so a committed change is never left unannounced and watchers
/// wake on changes instead of polling.
/// </summary>
public sealed class JobStore(IConnectionMultiplexer redis, TimeProvider time)
{
    public const string KeyPrefix = "msswift:training:";
    private static readonly RedisKey OpenJobsKey = KeyPrefix + "jobs:open";
    private static readonly RedisKey CreatedKey = KeyPrefix + "jobs:created";

    /// <summary>The transactional outbox of training events, oldest first.</summary>
    public static RedisKey OutboxKey { get; } = KeyPrefix + "outbox";

    // The leader's status write: refused (-1) under a lower token than any seen, -2 for a job
    // that is gone; otherwise the new revision. A higher token takes the job (and its address).
    private static readonly LuaScript WriteScript = LuaScript.Prepare("""
        if redis.call('EXISTS', @key) == 0 then return -2 end
        local stored = tonumber(redis.call('HGET', @key, 'fence') or '0')
        if tonumber(@fence) < stored then return -1 end
        redis.call('HSET', @key, 'fence', @fence, 'status', @status)
        if @leader ~= '' then redis.call('HSET', @key, 'leader', @leader) end
        if @change ~= '' then redis.call('RPUSH', @outbox, @change) end
        if @close == '1' then redis.call('SREM', @open, @job) end
        local revision = redis.call('HINCRBY', @key, 'revision', 1)
        redis.call('PUBLISH', @channel, revision)
        if @announce == '1' then redis.call('PUBLISH', @jobs, @job) end
        return revision
        """);

    // A checkpoint commit: refused under a lower token than any seen, or going back in version under the same token.
    private static readonly LuaScript CommitScript = LuaScript.Prepare("""
        local stored = tonumber(redis.call('HGET', @key, 'fence') or '0')
        local committer = tonumber(redis.call('HGET', @key, 'checkpoint_fence') or '0')
        local version = tonumber(redis.call('HGET', @key, 'committed_version') or '-1')
        if tonumber(@fence) < stored or tonumber(@fence) < committer or (tonumber(@fence) == committer and tonumber(@version) <= version) then return 0 end
        redis.call('HSET', @key, 'fence', @fence, 'checkpoint_fence', @fence, 'committed_version', @version, 'checkpoint', @checkpoint)
        redis.call('PUBLISH', @channel, redis.call('HINCRBY', @key, 'revision', 1))
        return 1
        """);

    private static readonly LuaScript CancelScript = LuaScript.Prepare("""
        if redis.call('EXISTS', @key) == 0 then return 0 end
        redis.call('HSET', @key, 'cancel', '1')
        redis.call('PUBLISH', @channel, redis.call('HINCRBY', @key, 'revision', 1))
        return 1
        """);

    /// <summary>Saves a new job (revision 1, no leader), opens it for workers, indexes it by creation time and queues its event, in one transaction.</summary>
    public async Task CreateAsync(TrainRequest request, TrainStatus status, TrainingEvent created)
    {
        var transaction = redis.GetDatabase().CreateTransaction();
        _ = transaction.HashSetAsync(Key(status.JobId), [new("request", request.ToByteArray()), new("status", status.ToByteArray()), new("revision", 1), new("fence", 0)]);
        // Scored in Unix milliseconds; a job saved again keeps its first time.
        _ = transaction.SortedSetAddAsync(CreatedKey, status.JobId, time.GetUtcNow().ToUnixTimeMilliseconds(), SortedSetWhen.NotExists);
        _ = transaction.SetAddAsync(OpenJobsKey, status.JobId);
        _ = transaction.ListRightPushAsync(OutboxKey, Stamped(created).ToByteArray());
        _ = transaction.PublishAsync(JobChanges.OpenJobsChannel, status.JobId);
        await transaction.ExecuteAsync();
    }

    /// <summary>
    /// The leader's write of <paramref name="status"/> (and its event, and, for an ended job,
    /// closing it to workers): false when refused because a newer leader wrote, or the job is gone.
    /// <paramref name="leader"/> records the writer's address (its first write as leader).
    /// </summary>
    public async Task<bool> WriteAsync(long fence, TrainStatus status, TrainingEvent? change, string leader = "")
    {
        var revision = (long)await redis.GetDatabase().ScriptEvaluateAsync(WriteScript, new
        {
            key = Key(status.JobId),
            fence,
            status = status.ToByteArray(),
            leader,
            change = change is null ? [] : Stamped(change).ToByteArray(),
            outbox = OutboxKey,
            close = JobRules.IsTerminal(status.State) ? "1" : "0",
            open = OpenJobsKey,
            job = status.JobId,
            channel = JobChanges.Channel(status.JobId).ToString(),
            // Idle workers wake when a job gets a leader, frees a worker's place, or ends.
            announce = leader.Length > 0 || change?.Type is TrainingEventType.MembershipChanged || JobRules.IsTerminal(status.State) ? "1" : "0",
            jobs = JobChanges.OpenJobsChannel.ToString(),
        });
        return revision > 0;
    }

    /// <summary>Records that <paramref name="checkpoint"/> holds <paramref name="version"/>; false when refused (a newer writer owns the job).</summary>
    public async Task<bool> CommitAsync(string jobId, long fencingToken, long version, string checkpoint) =>
        (long)await redis.GetDatabase().ScriptEvaluateAsync(CommitScript, new
        {
            key = Key(jobId),
            fence = fencingToken,
            version,
            checkpoint,
            channel = JobChanges.Channel(jobId).ToString(),
        }) == 1;

    public async Task<CommittedStep?> ReadCommittedAsync(string jobId)
    {
        var fields = await redis.GetDatabase().HashGetAsync(Key(jobId), ["checkpoint_fence", "committed_version", "checkpoint"]);
        return fields[2].IsNull ? null : new CommittedStep((long)fields[0], (long)fields[1], (string)fields[2]!);
    }

    /// <summary>Asks the job's leader to cancel it (only the leader writes a led job's status); false for an unknown job.</summary>
    public async Task<bool> RequestCancelAsync(string jobId) =>
        (long)await redis.GetDatabase().ScriptEvaluateAsync(CancelScript, new { key = Key(jobId), channel = JobChanges.Channel(jobId).ToString() }) == 1;

    public async Task<JobRecord?> ReadAsync(string jobId)
    {
        var fields = await redis.GetDatabase().HashGetAsync(Key(jobId), ["request", "status", "revision", "fence", "leader", "cancel"]);
        return fields[0].IsNull || fields[1].IsNull
            ? null
            : new JobRecord(
                TrainRequest.Parser.ParseFrom((byte[])fields[0]!), TrainStatus.Parser.ParseFrom((byte[])fields[1]!),
                (long)fields[2], fields[3].IsNull ? 0 : (long)fields[3], (string?)fields[4] ?? "", !fields[5].IsNull);
    }

    /// <summary>The newest <paramref name="limit"/> jobs, newest first: one round trip for the index, one for the records.</summary>
    public async Task<IReadOnlyList<JobSummary>> ListNewestAsync(int limit)
    {
        var newest = await redis.GetDatabase().SortedSetRangeByRankWithScoresAsync(CreatedKey, 0, limit - 1, Order.Descending);
        var records = await Task.WhenAll(newest.Select(entry => ReadAsync((string)entry.Element!)));
        return newest.Zip(records)
            .Where(job => job.Second is not null)
            .Select(job => Summary((string)job.First.Element!, job.First.Score, job.Second!))
            .ToList();
    }

    /// <summary>The job and when it was created; null for an unknown job.</summary>
    public async Task<JobSummary?> FindAsync(string jobId)
    {
        // Both sent before either answer is awaited: one round trip.
        var created = redis.GetDatabase().SortedSetScoreAsync(CreatedKey, jobId);
        var record = ReadAsync(jobId);
        var (found, at) = (await record, await created);
        return found is { } job ? Summary(jobId, at, job) : null;
    }

    /// <summary>Jobs that have not ended: the ones workers may join and coordinators may lead.</summary>
    public async Task<IReadOnlyList<string>> OpenJobsAsync() =>
        (await redis.GetDatabase().SetMembersAsync(OpenJobsKey)).Select(job => (string)job!).Order(StringComparer.Ordinal).ToList();

    private static TrainingEvent Stamped(TrainingEvent change)
    {
        var stamped = change.Clone();
        stamped.EventId = Guid.NewGuid().ToString("N");
        return stamped;
    }

    private static JobSummary Summary(string jobId, double? createdUnixMilliseconds, JobRecord record) =>
        new(jobId, createdUnixMilliseconds is { } milliseconds ? DateTime.UnixEpoch.AddMilliseconds(milliseconds) : null, record.Request, record.Status);

    private static RedisKey Key(string jobId) => $"{KeyPrefix}job:{jobId}:record";
}
