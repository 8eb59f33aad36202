using Google.Protobuf;
using Microsoft.Net.Http.Headers;

namespace MsSwift.Registry.Http;

/// <summary>A protobuf message written in its JSON mapping, with an optional ETag.</summary>
internal sealed class ProtoJsonResult(IMessage message, int status, string? etag) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = status;
        httpContext.Response.ContentType = "application/json";
        if (etag is not null)
        {
            httpContext.Response.Headers[HeaderNames.ETag] = etag;
        }

        return httpContext.Response.WriteAsync(JsonFormatter.Default.Format(message), httpContext.RequestAborted);
    }
}
