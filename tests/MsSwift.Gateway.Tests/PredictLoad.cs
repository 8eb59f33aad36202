using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using MsSwift.Contracts.V1;

namespace MsSwift.Gateway.Tests;

/// <summary>One answer or failure of <see cref="PredictLoad"/>, with when (on the load's clock) its request was sent.</summary>
internal sealed record PredictOutcome(TimeSpan Sent, string? Version, string? Failure);

/// <summary>Callers predicting through the gateway in a loop, recording which version answered each request and what failed.</summary>
internal sealed class PredictLoad : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<PredictOutcome> _outcomes = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Task _callers;

    public PredictLoad(ModelService.ModelServiceClient models, Metadata credentials, int clients)
    {
        Clients = clients;
        _callers = Task.WhenAll(Enumerable.Range(0, clients).Select(i => Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                var sent = _clock.Elapsed;
                try
                {
                    var response = await models.PredictAsync(FrontDoorTests.Request($"load {i}"), credentials, deadline: DateTime.UtcNow.AddSeconds(30));
                    _outcomes.Enqueue(new PredictOutcome(sent, response.ModelVersion, null));
                }
                catch (RpcException error)
                {
                    _outcomes.Enqueue(new PredictOutcome(sent, null, $"{error.StatusCode}: {error.Status.Detail}"));
                }
            }
        })));
    }

    public int Clients { get; }

    /// <summary>Now, on the clock of <see cref="PredictOutcome.Sent"/>.</summary>
    public TimeSpan Now => _clock.Elapsed;

    public IEnumerable<string> Answers => _outcomes.Where(outcome => outcome.Version is not null).Select(outcome => outcome.Version!);

    public IEnumerable<PredictOutcome> Failures => _outcomes.Where(outcome => outcome.Failure is not null);

    public async Task WaitForAnswersAsync(int count)
    {
        var target = Answers.Count() + count;
        while (Answers.Count() < target)
        {
            await Task.Delay(20);
        }
    }

    /// <summary>Time until the last <see cref="Clients"/> x 2 answers all came from <paramref name="version"/>.</summary>
    public Task<TimeSpan> TimeUntilOnlyAsync(string version, TimeSpan timeout) =>
        TimeUntilAsync(() => Answers.TakeLast(Clients * 2).Count(answer => answer == version) == Clients * 2, timeout);

    public Task<TimeSpan> TimeUntilAnyAsync(string version, TimeSpan timeout) =>
        TimeUntilAsync(() => Answers.Contains(version), timeout);

    /// <summary>Stops the callers; every outcome, in the order they came back.</summary>
    public async Task<IReadOnlyList<PredictOutcome>> StopAsync()
    {
        await _stop.CancelAsync();
        await _callers;
        return [.. _outcomes];
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private static async Task<TimeSpan> TimeUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (!condition() && watch.Elapsed < timeout)
        {
            await Task.Delay(20);
        }

        return watch.Elapsed;
    }
}
