using StackExchange.Redis;

namespace MsSwift.Training.Jobs;

/// <summary>A job's committed progress: the parameter version and the checkpoint that holds it.</summary>
public sealed record CommittedStep(long FencingToken, long Version, string Checkpoint);

/// <summary>
/// A training job's durable state in Redis, written with fencing: every commit carries the
/// writer's lock fencing token, and Redis refuses it when a higher token has already written, so
/// a parameter server that lost its lease (paused, partitioned) can never overwrite its successor.
/// </summary>
public sealed class JobStateStore(IConnectionMultiplexer redis)
{
    // Refuse a lower token than any seen; refuse going back in version under the same token.
    private static readonly LuaScript CommitScript = LuaScript.Prepare("""
        local fence = tonumber(redis.call('HGET', @key, 'fence') or '0')
        local version = tonumber(redis.call('HGET', @key, 'version') or '-1')
        if tonumber(@fence) < fence or (tonumber(@fence) == fence and tonumber(@version) <= version) then return 0 end
        redis.call('HSET', @key, 'fence', @fence, 'version', @version, 'checkpoint', @checkpoint)
        return 1
        """);

    /// <summary>Records that <paramref name="checkpoint"/> holds <paramref name="version"/>; false when refused (a newer writer owns the job).</summary>
    public async Task<bool> CommitAsync(string jobId, long fencingToken, long version, string checkpoint) =>
        (long)await redis.GetDatabase().ScriptEvaluateAsync(CommitScript, new
        {
            key = Key(jobId),
            fence = fencingToken,
            version,
            checkpoint,
        }) == 1;

    public async Task<CommittedStep?> ReadAsync(string jobId)
    {
        var fields = (await redis.GetDatabase().HashGetAllAsync(Key(jobId))).ToDictionary(entry => (string)entry.Name!, entry => entry.Value);
        return fields.Count == 0
            ? null
            : new CommittedStep((long)fields["fence"], (long)fields["version"], (string)fields["checkpoint"]!);
    }

    private static RedisKey Key(string jobId) => $"msswift:training:job:{jobId}:state";
}
