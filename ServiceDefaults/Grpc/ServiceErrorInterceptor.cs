using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Grpc.Core.Interceptors;
using MsSwift.ServiceDefaults.Errors;

namespace MsSwift.ServiceDefaults.Grpc;

/// <summary>
/// Turns a <see cref="ServiceException"/> from any gRPC handler (unary or streaming) into the
/// status a client can act on, with the field violations as <c>google.rpc.BadRequest</c> details.
/// </summary>
public sealed class ServiceErrorInterceptor : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (ServiceException error)
        {
            throw ToRpcException(error);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (ServiceException error)
        {
            throw ToRpcException(error);
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(requestStream, context);
        }
        catch (ServiceException error)
        {
            throw ToRpcException(error);
        }
    }

    public static StatusCode StatusCodeOf(ServiceError error) => error switch
    {
        ServiceError.InvalidArgument => StatusCode.InvalidArgument,
        ServiceError.NotFound => StatusCode.NotFound,
        ServiceError.AlreadyExists => StatusCode.AlreadyExists,
        ServiceError.Conflict => StatusCode.Aborted,
        ServiceError.ResourceExhausted => StatusCode.ResourceExhausted,
        _ => StatusCode.FailedPrecondition,
    };

    public static RpcException ToRpcException(ServiceException error)
    {
        var code = StatusCodeOf(error.Error);
        if (error.Violations.Count == 0)
        {
            return new RpcException(new global::Grpc.Core.Status(code, error.Message));
        }

        var details = new BadRequest { FieldViolations = { error.Violations.Select(violation => new BadRequest.Types.FieldViolation { Field = violation.Field, Description = violation.Description }) } };
        return new Google.Rpc.Status { Code = (int)code, Message = error.Message, Details = { Any.Pack(details) } }.ToRpcException();
    }
}
