using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MsSwift.Inference.Kafka;

/// <summary>
/// Who is serving which asynchronous request, and the answers already given, in Redis so every
/// replica sees them. A replica claims a request id with a lease before serving it, renews the
/// lease while it works, and stores the answer before publishing it. Each step is one script, so
/// "is it answered?" and "take it" cannot interleave with another replica's store: a copy of the
/// request (a redelivery after a rebalance, or the caller sending it again) is never generated a
/// second time; it waits for the claim to end and gets the stored answer. A replica that dies lets
/// its lease lapse, and the next one serves. Answers are kept for a day.
/// </summary>
internal sealed class RequestLedger(IConnectionMultiplexer redis, IOptions<InferenceOptions> options)
{
    private static readonly TimeSpan Retention = TimeSpan.FromDays(1);
    private const string ClaimPrefix = "msswift:inference:claim:";
    private const string AnswerPrefix = "msswift:inference:answer:";

    // Returns the stored answer, or 'claimed' when this owner holds the request now (a claim of
    // its own is renewed: a retried message keeps its claim), or nil while another holds it.
    private static readonly LuaScript ClaimScript = LuaScript.Prepare(
        "local answer = redis.call('GET', @answer) if answer then return answer end " +
        "local holder = redis.call('GET', @claim) " +
        "if not holder or holder == @owner then redis.call('SET', @claim, @owner, 'PX', @leaseMs) return 'claimed' end " +
        "return false");

    private static readonly LuaScript RenewScript = LuaScript.Prepare(
        "if redis.call('GET', @claim) == @owner then return redis.call('PEXPIRE', @claim, @leaseMs) else return 0 end");

    // The first answer stored wins (a replica whose lease lapsed may finish second); the claim ends.
    private static readonly LuaScript AnswerScript = LuaScript.Prepare(
        "redis.call('SET', @answer, @value, 'EX', @retentionSeconds, 'NX') " +
        "if redis.call('GET', @claim) == @owner then redis.call('DEL', @claim) end " +
        "return redis.call('GET', @answer)");

    private static readonly LuaScript ReleaseScript = LuaScript.Prepare(
        "if redis.call('GET', @claim) == @owner then return redis.call('DEL', @claim) else return 0 end");

    public TimeSpan Lease => TimeSpan.FromSeconds(options.Value.AsyncRequestLeaseSeconds);

    /// <summary>The stored answer when the request was answered; otherwise whether this owner now holds it.</summary>
    public async Task<(byte[]? Answer, bool Claimed)> ClaimAsync(string requestId, string owner)
    {
        var result = await redis.GetDatabase().ScriptEvaluateAsync(ClaimScript, new
        {
            answer = Answer(requestId), claim = Claim(requestId), owner = (RedisValue)owner, leaseMs = (long)Lease.TotalMilliseconds,
        });
        if (result.IsNull)
        {
            return (null, false);
        }

        var value = (byte[])result!;
        return value.AsSpan().SequenceEqual("claimed"u8) ? (null, true) : (value, false);
    }

    /// <summary>Extends the lease; false when it lapsed and someone else may have taken the request.</summary>
    public async Task<bool> RenewAsync(string requestId, string owner) =>
        (long)await redis.GetDatabase().ScriptEvaluateAsync(RenewScript,
            new { claim = Claim(requestId), owner = (RedisValue)owner, leaseMs = (long)Lease.TotalMilliseconds }) == 1;

    /// <summary>Stores the answer (unless one is stored already) and ends the claim; returns the answer to publish.</summary>
    public async Task<byte[]> StoreAnswerAsync(string requestId, string owner, byte[] answer) =>
        (byte[])(await redis.GetDatabase().ScriptEvaluateAsync(AnswerScript, new
        {
            answer = Answer(requestId),
            claim = Claim(requestId),
            value = (RedisValue)answer,
            owner = (RedisValue)owner,
            retentionSeconds = (long)Retention.TotalSeconds,
        }))!;

    /// <summary>Gives the request up (serving it failed), so the next attempt need not wait out the lease.</summary>
    public Task ReleaseAsync(string requestId, string owner) =>
        redis.GetDatabase().ScriptEvaluateAsync(ReleaseScript, new { claim = Claim(requestId), owner = (RedisValue)owner });

    private static RedisKey Claim(string requestId) => ClaimPrefix + requestId;

    private static RedisKey Answer(string requestId) => AnswerPrefix + requestId;
}
