using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MsSwift.Inference.Kafka;

/// <summary>
/// Who is serving which asynchronous request, and the answers already given, in Redis so every
/// replica sees them. A replica claims a request id with a lease before serving it (atomic
/// <c>SET NX</c>, not check-then-serve), renews the lease while it works, and stores the answer
/// before publishing it; so a copy of the request (a redelivery after a rebalance, or the caller
/// sending it again) is never served a second time: it waits for the claim to end and gets the
/// stored answer republished. A replica that dies lets its lease lapse, and the next one serves.
/// Answers are kept for a day.
/// </summary>
internal sealed class RequestLedger(IConnectionMultiplexer redis, IOptions<InferenceOptions> options)
{
    private static readonly TimeSpan Retention = TimeSpan.FromDays(1);
    private const string ClaimPrefix = "msswift:inference:claim:";
    private const string AnswerPrefix = "msswift:inference:answer:";

    private static readonly LuaScript RenewScript = LuaScript.Prepare(
        "if redis.call('GET', @claim) == @owner then return redis.call('PEXPIRE', @claim, @leaseMs) else return 0 end");

    private static readonly LuaScript AnswerScript = LuaScript.Prepare(
        "redis.call('SET', @answer, @value, 'EX', @retentionSeconds) " +
        "if redis.call('GET', @claim) == @owner then redis.call('DEL', @claim) end return 1");

    public TimeSpan Lease => TimeSpan.FromSeconds(options.Value.AsyncRequestLeaseSeconds);

    public async Task<byte[]?> AnswerAsync(string requestId) =>
        (byte[]?)await redis.GetDatabase().StringGetAsync(AnswerPrefix + requestId);

    /// <summary>True when this owner now holds the request; false while another holds it.</summary>
    public Task<bool> TryClaimAsync(string requestId, string owner) =>
        redis.GetDatabase().StringSetAsync(ClaimPrefix + requestId, owner, Lease, When.NotExists);

    /// <summary>Extends the lease; false when it lapsed and someone else may have taken the request.</summary>
    public async Task<bool> RenewAsync(string requestId, string owner) =>
        (long)await redis.GetDatabase().ScriptEvaluateAsync(RenewScript,
            new { claim = (RedisKey)(ClaimPrefix + requestId), owner = (RedisValue)owner, leaseMs = (long)Lease.TotalMilliseconds }) == 1;

    /// <summary>Stores the answer and ends the claim in one step.</summary>
    public Task StoreAnswerAsync(string requestId, string owner, byte[] answer) =>
        redis.GetDatabase().ScriptEvaluateAsync(AnswerScript, new
        {
            answer = (RedisKey)(AnswerPrefix + requestId),
            claim = (RedisKey)(ClaimPrefix + requestId),
            value = (RedisValue)answer,
            owner = (RedisValue)owner,
            retentionSeconds = (long)Retention.TotalSeconds,
        });
}
