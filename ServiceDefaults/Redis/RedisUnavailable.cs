using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using StackExchange.Redis;

namespace MsSwift.ServiceDefaults.Redis;

/// <summary>
/// Redis being unreachable is the dependency's state, not a bug in the request: callers get gRPC
/// <c>UNAVAILABLE</c> or HTTP 503 with <c>Retry-After</c> (both retryable), not <c>UNKNOWN</c> or 500.
/// </summary>
internal static class RedisUnavailable
{
    private const string Detail = "Redis is unreachable; retry shortly";

    public static bool Is(Exception error) => error is RedisConnectionException or RedisTimeoutException;

    /// <summary>The HTTP half: wraps every endpoint; a response already started is left to end as it does.</summary>
    public static IApplicationBuilder UseRedisUnavailableAs503(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        try
        {
            await next(context);
        }
        catch (Exception error) when (Is(error) && !context.Response.HasStarted && !IsGrpc(context.Request))
        {
            context.Response.Clear();
            context.Response.Headers.RetryAfter = "1";
            await Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "A dependency is unavailable", detail: Detail).ExecuteAsync(context);
        }
    });

    private static bool IsGrpc(HttpRequest request) => request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true;

    /// <summary>The gRPC half, for unary and server-streaming calls.</summary>
    internal sealed class UnavailableInterceptor : Interceptor
    {
        public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
            TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
        {
            try
            {
                return await continuation(request, context);
            }
            catch (Exception error) when (Is(error))
            {
                throw new RpcException(new Status(StatusCode.Unavailable, Detail, error));
            }
        }

        public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
            TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
        {
            try
            {
                await continuation(request, responseStream, context);
            }
            catch (Exception error) when (Is(error))
            {
                throw new RpcException(new Status(StatusCode.Unavailable, Detail, error));
            }
        }
    }

    public static void AddTo(GrpcServiceOptions options) => options.Interceptors.Add<UnavailableInterceptor>();
}
