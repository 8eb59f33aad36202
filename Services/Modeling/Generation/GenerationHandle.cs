using System.Threading.Channels;

namespace MsSwift.Modeling.Generation;

/// <summary>A submitted request: its tokens as they are generated, and its final result.</summary>
public sealed class GenerationHandle
{
    private readonly Channel<int> _tokens = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly TaskCompletionSource<GenerationResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal GenerationHandle(GenerationRequest request, CancellationToken cancellationToken)
    {
        Request = request;
        CancellationToken = cancellationToken;
        QueuedAt = TimeProvider.System.GetTimestamp();
    }

    public GenerationRequest Request { get; }

    /// <summary>Every generated token id, in order; completes when generation ends.</summary>
    public ChannelReader<int> Tokens => _tokens.Reader;

    /// <summary>The result; faults with <see cref="OperationCanceledException"/> when the caller cancelled.</summary>
    public Task<GenerationResult> Completion => _completion.Task;

    /// <summary>Timestamps (<see cref="TimeProvider.GetTimestamp"/>) for queue-time and latency metrics.</summary>
    public long QueuedAt { get; }

    public long StartedAt { get; private set; }

    internal CancellationToken CancellationToken { get; }

    internal void Started() => StartedAt = TimeProvider.System.GetTimestamp();

    internal void Emit(int token) => _tokens.Writer.TryWrite(token);

    internal void Complete(GenerationResult result)
    {
        _tokens.Writer.TryComplete();
        _completion.TrySetResult(result);
    }

    internal void Fail(Exception error)
    {
        _tokens.Writer.TryComplete(error);
        _completion.TrySetException(error);
    }
}
