using Google.Protobuf;
using MsSwift.Contracts.V1;
using StackExchange.Redis;

namespace MsSwift.Training.Jobs;

/// <summary>
/// Training jobs in Redis: each job's request and latest status (for re-attaching from any
/// coordinator), the set of jobs that want workers, and the worker slots of each job: a worker
/// holds slot i (its data shard) while it keeps the slot's lease alive with heartbeats.
/// </summary>
public sealed class JobRecords(IConnectionMultiplexer redis)
{
    private const string Prefix = "msswift:training:";
    private static readonly RedisKey OpenJobsKey = Prefix + "jobs:open";

    public async Task SaveAsync(TrainRequest request, TrainStatus status)
    {
        await redis.GetDatabase().HashSetAsync(Key(status.JobId), [new("request", request.ToByteArray()), new("status", status.ToByteArray())]);
    }

    public Task SaveStatusAsync(TrainStatus status) => redis.GetDatabase().HashSetAsync(Key(status.JobId), "status", status.ToByteArray());

    public async Task<(TrainRequest Request, TrainStatus Status)?> ReadAsync(string jobId)
    {
        var fields = await redis.GetDatabase().HashGetAsync(Key(jobId), ["request", "status"]);
        return fields[0].IsNull || fields[1].IsNull
            ? null
            : (TrainRequest.Parser.ParseFrom((byte[])fields[0]!), TrainStatus.Parser.ParseFrom((byte[])fields[1]!));
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

    private static RedisKey Key(string jobId) => $"{Prefix}job:{jobId}:record";

    private static RedisKey SlotKey(string jobId, int slot) => $"{Prefix}job:{jobId}:slot:{slot}";
}
