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

    public static PredictException ResourceExhausted(string message) => new(new Google.Rpc.Status
    {
        Code = (int)Code.ResourceExhausted,
        Message = message,
        Details = { Any.Pack(new RetryInfo { RetryDelay = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(200)) }) },
    });
}
