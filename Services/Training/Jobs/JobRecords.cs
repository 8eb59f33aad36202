using Google.Protobuf;
using MsSwift.Contracts.V1;
using StackExchange.Redis;

namespace MsSwift.Training.Jobs;

/// <summary>
/// Training jobs in Redis: each job's request and latest status (for re-attaching from any
/// coordinator), the set of jobs that want workers, and the worker slots of each job: a worker
/// holds slot i (its data shard) while it keeps the slot's lease alive with heartbeats. Every job
/// is indexed by its creation time, so the newest can be listed without scanning keys.
/// </summary>
public sealed class JobRecords(IConnectionMultiplexer redis, TimeProvider time)
{
    private const string Prefix = "msswift:training:";
    private static readonly RedisKey OpenJobsKey = Prefix + "jobs:open";
    private static readonly RedisKey CreatedKey = Prefix + "jobs:created";

    /// <summary>Saves a new job's request and first status, and indexes it by its creation time, in one transaction.</summary>
    public async Task SaveAsync(TrainRequest request, TrainStatus status)
    {
        var transaction = redis.GetDatabase().CreateTransaction();
        _ = transaction.HashSetAsync(Key(status.JobId), [new("request", request.ToByteArray()), new("status", status.ToByteArray())]);
        // Scored in Unix milliseconds; a job saved again keeps its first time.
        _ = transaction.SortedSetAddAsync(CreatedKey, status.JobId, time.GetUtcNow().ToUnixTimeMilliseconds(), SortedSetWhen.NotExists);
        await transaction.ExecuteAsync();
    }

    public Task SaveStatusAsync(TrainStatus status) => redis.GetDatabase().HashSetAsync(Key(status.JobId), "status", status.ToByteArray());

    public async Task<(TrainRequest Request, TrainStatus Status)?> ReadAsync(string jobId)
    {
        var fields = await redis.GetDatabase().HashGetAsync(Key(jobId), ["request", "status"]);
        return fields[0].IsNull || fields[1].IsNull
            ? null
            : (TrainRequest.Parser.ParseFrom((byte[])fields[0]!), TrainStatus.Parser.ParseFrom((byte[])fields[1]!));
    }

    /// <summary>The newest <paramref name="limit"/> jobs, newest first: one round trip for the index, one for the records.</summary>
    public async Task<IReadOnlyList<JobSummary>> ListNewestAsync(int limit)
    {
        var newest = await redis.GetDatabase().SortedSetRangeByRankWithScoresAsync(CreatedKey, 0, limit - 1, Order.Descending);
        var records = await Task.WhenAll(newest.Select(entry => ReadAsync((string)entry.Element!)));
        return newest.Zip(records)
            .Where(job => job.Second is not null)
            .Select(job => Summary((string)job.First.Element!, job.First.Score, job.Second!.Value))
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

    /// <summary>Asks the job's leader to cancel it (only the leader writes a led job's status).</summary>
    public Task RequestCancelAsync(string jobId) => redis.GetDatabase().HashSetAsync(Key(jobId), "cancel", 1);

    public async Task<bool> IsCancelRequestedAsync(string jobId) => await redis.GetDatabase().HashExistsAsync(Key(jobId), "cancel");

    public Task OpenAsync(string jobId) => redis.GetDatabase().SetAddAsync(OpenJobsKey, jobId);

    public Task CloseAsync(string jobId) => redis.GetDatabase().SetRemoveAsync(OpenJobsKey, jobId);

    public async Task<IReadOnlyList<string>> OpenJobsAsync() =>
        (await redis.GetDatabase().SetMembersAsync(OpenJobsKey)).Select(job => (string)job!).ToList();

    /// <summary>Takes a free worker slot of the job for <paramref name="lease"/>; the slot index, or null when all are held.</summary>
    public async Task<int?> ClaimSlotAsync(string jobId, int slots, string workerId, TimeSpan lease)
    {
        var database = redis.GetDatabase();
        for (var slot = 0; slot < slots; slot++)
        {
            if (await database.StringSetAsync(SlotKey(jobId, slot), workerId, lease, When.NotExists))
            {
                return slot;
            }
        }

        return null;
    }

    /// <summary>The worker's heartbeat: false when the slot lapsed (another worker may hold it now).</summary>
    public async Task<bool> RenewSlotAsync(string jobId, int slot, string workerId, TimeSpan lease)
    {
        var database = redis.GetDatabase();
        var holder = (string?)await database.StringGetAsync(SlotKey(jobId, slot));
        return holder == workerId && await database.KeyExpireAsync(SlotKey(jobId, slot), lease);
    }

    public Task ReleaseSlotAsync(string jobId, int slot) => redis.GetDatabase().KeyDeleteAsync(SlotKey(jobId, slot));

    private static JobSummary Summary(string jobId, double? createdUnixMilliseconds, (TrainRequest Request, TrainStatus Status) record) =>
        new(jobId, createdUnixMilliseconds is { } milliseconds ? DateTime.UnixEpoch.AddMilliseconds(milliseconds) : null, record.Request, record.Status);

    private static RedisKey Key(string jobId) => $"{Prefix}job:{jobId}:record";

    private static RedisKey SlotKey(string jobId, int slot) => $"{Prefix}job:{jobId}:slot:{slot}";
}
