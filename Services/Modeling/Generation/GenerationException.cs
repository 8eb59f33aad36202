namespace MsSwift.Modeling.Generation;

/// <summary>Why a request failed inside the engine, so each front end can answer with the right status.</summary>
public enum GenerationFailure
{
    /// <summary>The request's own parameters made its arithmetic invalid (gRPC InvalidArgument, HTTP 400).</summary>
    InvalidRequest,

    /// <summary>The model computed something unusable for this sequence, such as non-finite logits (gRPC Internal, HTTP 500).</summary>
    Internal,

    /// <summary>The engine stopped (unloaded, or faulted and being reloaded); retrying may succeed (gRPC Unavailable, HTTP 503).</summary>
    Unavailable,
}

/// <summary>A request that the engine could not finish; <see cref="Failure"/> says whose fault it was.</summary>
public sealed class GenerationException(GenerationFailure failure, string message, Exception? inner = null) : Exception(message, inner)
{
    public GenerationFailure Failure { get; } = failure;
}

/// <summary>
/// The batcher takes no more requests: it is draining for an unload, or its engine faulted.
/// Derives from <see cref="InvalidOperationException"/> so callers that look the version up
/// again (it may have been switched out meanwhile) keep working.
/// </summary>
public sealed class BatcherClosedException(string message, Exception? fault = null) : InvalidOperationException(message, fault)
{
    /// <summary>True when the engine failed, rather than being stopped on purpose.</summary>
    public bool Faulted => InnerException is not null;
}
