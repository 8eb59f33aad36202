using StackExchange.Redis;

namespace MsSwift.Inference.Kafka;

/// <summary>
/// Request ids whose result has been published, in Redis so every replica sees them: a request
/// sent twice (or redelivered after a rebalance) is answered once. Marks expire after a day.
/// </summary>
internal sealed class AnsweredRequests(IConnectionMultiplexer redis)
{
    private const string Prefix = "msswift:inference:answered:";
    private static readonly TimeSpan Retention = TimeSpan.FromDays(1);

    public Task<bool> ContainsAsync(string requestId) => redis.GetDatabase().KeyExistsAsync(Prefix + requestId);

    public Task MarkAsync(string requestId) => redis.GetDatabase().StringSetAsync(Prefix + requestId, "1", Retention);
}
