using System.Diagnostics.CodeAnalysis;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;

namespace MsSwift.Inference.Grpc;

/// <summary>Precise gRPC errors, with google.rpc details where a client can act on them.</summary>
internal static class RpcErrors
{
    [DoesNotReturn]
    public static void InvalidArgument(BadRequest violations) =>
        throw new Google.Rpc.Status
        {
            Code = (int)Code.InvalidArgument,
            Message = string.Join("; ", violations.FieldViolations.Select(violation => $"{violation.Field}: {violation.Description}")),
            Details = { Any.Pack(violations) },
        }.ToRpcException();

    [DoesNotReturn]
    public static void NotFound(string message) => throw new RpcException(new global::Grpc.Core.Status(StatusCode.NotFound, message));

    [DoesNotReturn]
    public static void ResourceExhausted(string message) =>
        throw new Google.Rpc.Status
        {
            Code = (int)Code.ResourceExhausted,
            Message = message,
            Details = { Any.Pack(new RetryInfo { RetryDelay = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(200)) }) },
        }.ToRpcException();
}
