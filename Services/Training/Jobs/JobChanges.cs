using StackExchange.Redis;

namespace MsSwift.Training.Jobs;

/// <summary>
/// Wakes whoever follows a job when its record changes: every <see cref="JobStore"/> write
/// publishes the new revision on the job's channel. Pub/sub delivers at most once (a message sent
/// while the connection is re-established is lost), so a follower also re-reads after
/// <see cref="Fallback"/> without news: a change is seen at once, and a lost one soon after.
/// </summary>
public sealed class JobChanges(IConnectionMultiplexer redis)
{
    /// <summary>How long a follower waits without a message before it re-reads anyway.</summary>
    public static readonly TimeSpan Fallback = TimeSpan.FromSeconds(5);

    public static RedisChannel Channel(string jobId) => RedisChannel.Literal($"{JobStore.KeyPrefix}job:{jobId}:changes");

    /// <summary>Announces jobs workers may want: created, given a leader, a place freed, ended.</summary>
    public static RedisChannel OpenJobsChannel { get; } = RedisChannel.Literal($"{JobStore.KeyPrefix}jobs:changes");

    /// <summary>Starts following the job; dispose the subscription to stop.</summary>
    public Task<Subscription> FollowAsync(string jobId) => StartAsync(Channel(jobId));

    /// <summary>Starts following the open jobs (what idle workers wait on).</summary>
    public Task<Subscription> FollowOpenJobsAsync() => StartAsync(OpenJobsChannel);

    private async Task<Subscription> StartAsync(RedisChannel channel)
    {
        var subscription = new Subscription(redis.GetSubscriber(), channel);
        await subscription.StartAsync();
        return subscription;
    }

    /// <summary>One follower of one job's changes.</summary>
    public sealed class Subscription(ISubscriber subscriber, RedisChannel channel) : IAsyncDisposable
    {
        private readonly SemaphoreSlim _news = new(0, 1);

        internal async Task StartAsync() => await subscriber.SubscribeAsync(channel, OnMessage);

        /// <summary>Returns when the job changed since the last call (or <paramref name="timeout"/> passed).</summary>
        public async Task WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
        {
            using var fallback = new CancellationTokenSource(timeout, time);
            using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, fallback.Token);
            try
            {
                await _news.WaitAsync(either.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The fallback: re-read without news.
            }
        }

        public async ValueTask DisposeAsync()
        {
            await subscriber.UnsubscribeAsync(channel, OnMessage);
            _news.Dispose();
        }

        private void OnMessage(RedisChannel _, RedisValue __)
        {
            // One pending wake-up is enough: the follower re-reads the whole record.
            if (_news.CurrentCount == 0)
            {
                try
                {
                    _news.Release();
                }
                catch (SemaphoreFullException)
                {
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }
    }
}
