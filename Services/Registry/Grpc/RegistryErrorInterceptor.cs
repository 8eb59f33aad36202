using Grpc.Core;
using Grpc.Core.Interceptors;
using MsSwift.Registry.Models;

namespace MsSwift.Registry.Grpc;

/// <summary>Turns a refused registry operation into the gRPC status a client can act on.</summary>
internal sealed class RegistryErrorInterceptor : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (RegistryException error)
        {
            throw new RpcException(new Status(StatusCodeOf(error.Error), error.Message));
        }
    }

    public static StatusCode StatusCodeOf(RegistryError error) => error switch
    {
        RegistryError.InvalidArgument => StatusCode.InvalidArgument,
        RegistryError.NotFound => StatusCode.NotFound,
        RegistryError.AlreadyExists => StatusCode.AlreadyExists,
        RegistryError.Conflict => StatusCode.Aborted,
        _ => StatusCode.FailedPrecondition,
    };
}
