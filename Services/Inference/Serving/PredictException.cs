using Google.Protobuf.WellKnownTypes;
using Google.Rpc;

namespace MsSwift.Inference.Serving;

/// <summary>
/// A predict request that cannot be served, as the google.rpc.Status every front end reports:
/// gRPC as the call's status, Kafka as the result's error, HTTP as a mapped error body.
/// </summary>
public sealed class PredictException(Google.Rpc.Status status) : Exception(status.Message)
{
    public Google.Rpc.Status Status { get; } = status;

    public Code Code => (Code)Status.Code;

    public static PredictException InvalidArgument(BadRequest violations) => new(new Google.Rpc.Status
    {
        Code = (int)Code.InvalidArgument,
        Message = string.Join("; ", violations.FieldViolations.Select(violation => $"{violation.Field}: {violation.Description}")),
        Details = { Any.Pack(violations) },
    });

    public static PredictException NotFound(string message) => new(new Google.Rpc.Status { Code = (int)Code.NotFound, Message = message });

    public static PredictException Internal(string message) => new(new Google.Rpc.Status { Code = (int)Code.Internal, Message = message });

    /// <summary>The version cannot serve right now (unloading, or restarting after an engine failure): retry shortly.</summary>
    public static PredictException Unavailable(string message) => new(new Google.Rpc.Status
    {
        Code = (int)Code.Unavailable,
        Message = message,
        Details = { Any.Pack(new RetryInfo { RetryDelay = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(500)) }) },
    });

    /// <summary>A request the engine could not finish, by whose fault it was.</summary>
    public static PredictException From(MsSwift.Modeling.Generation.GenerationException error) => error.Failure switch
    {
        MsSwift.Modeling.Generation.GenerationFailure.InvalidRequest => new(new Google.Rpc.Status { Code = (int)Code.InvalidArgument, Message = error.Message }),
        MsSwift.Modeling.Generation.GenerationFailure.Unavailable => Unavailable(error.Message),
        _ => Internal(error.Message),
    };

    public static PredictException ResourceExhausted(string message) => new(new Google.Rpc.Status
    {
        Code = (int)Code.ResourceExhausted,
        Message = message,
        Details = { Any.Pack(new RetryInfo { RetryDelay = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(200)) }) },
    });
}
