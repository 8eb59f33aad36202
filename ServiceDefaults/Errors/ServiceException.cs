namespace MsSwift.ServiceDefaults.Errors;

/// <summary>Why a service operation was refused; each front end maps it to its own status (gRPC, HTTP).</summary>
public enum ServiceError
{
    InvalidArgument,
    NotFound,
    AlreadyExists,
    /// <summary>The resource's state does not allow the change (deleting the production version, cancelling an ended job, ...).</summary>
    FailedPrecondition,
    /// <summary>The caller's expected revision is not the current one.</summary>
    StaleRevision,
    /// <summary>Another change to the same resource committed first, or a newer owner holds it; re-read and retry.</summary>
    Conflict,
    /// <summary>A capacity limit is reached (jobs at once, workers in a job); retry later or elsewhere.</summary>
    ResourceExhausted,
}

/// <summary>A field of a request and what is wrong with it.</summary>
public sealed record FieldViolation(string Field, string Description);

/// <summary>
/// A refused operation, thrown by domain code (rules, stores, services) that knows nothing of
/// gRPC or HTTP; <see cref="Grpc.ServiceErrorInterceptor"/> maps it once for every gRPC service.
/// </summary>
public sealed class ServiceException(ServiceError error, string message, IReadOnlyList<FieldViolation>? violations = null) : Exception(message)
{
    public ServiceError Error { get; } = error;

    /// <summary>For <see cref="ServiceError.InvalidArgument"/>: which fields are wrong (a <c>google.rpc.BadRequest</c> on the wire).</summary>
    public IReadOnlyList<FieldViolation> Violations { get; } = violations ?? [];
}
