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

    /// <summary>When the engine took it from the queue into a batch slot (0 before that).</summary>
    public long AdmittedAt { get; private set; }

    /// <summary>When the first token was emitted (0 before it).</summary>
    public long FirstTokenAt { get; private set; }

    /// <summary>When the latest token was emitted (0 before the first).</summary>
    public long LastTokenAt { get; private set; }

    internal CancellationToken CancellationToken { get; }

    /// <summary>Marks it admitted into a batch; returns how long it waited in the queue.</summary>
    internal TimeSpan Admit()
    {
        AdmittedAt = TimeProvider.System.GetTimestamp();
        return TimeProvider.System.GetElapsedTime(QueuedAt, AdmittedAt);
    }

    /// <summary>Emits a token; returns the time since the previous one (or since arrival, for the first).</summary>
    internal TimeSpan Emit(int token)
    {
        var now = TimeProvider.System.GetTimestamp();
        var since = TimeProvider.System.GetElapsedTime(LastTokenAt == 0 ? QueuedAt : LastTokenAt, now);
        FirstTokenAt = FirstTokenAt == 0 ? now : FirstTokenAt;
        LastTokenAt = now;
        _tokens.Writer.TryWrite(token);
        return since;
    }

    /// <summary>True when this call ended the request (it had not ended before).</summary>
    internal bool Complete(GenerationResult result)
    {
        _tokens.Writer.TryComplete();
        return _completion.TrySetResult(result);
    }

    /// <inheritdoc cref="Complete"/>
    internal bool Fail(Exception error)
    {
        _tokens.Writer.TryComplete(error);
        return _completion.TrySetException(error);
    }
}
