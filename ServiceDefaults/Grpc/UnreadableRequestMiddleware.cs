using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Reflection;
using Google.Protobuf;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace MsSwift.ServiceDefaults.Grpc;

/// <summary>
/// Answers a gRPC request whose message is not valid protobuf with <c>INVALID_ARGUMENT</c>.
/// grpc-dotnet deserializes the request before any interceptor runs, and a parse failure there
/// reaches the caller as <c>UNKNOWN: Exception was thrown by handler</c>, which reads like a
/// server bug. For unary and server-streaming calls (one request message, already bounded by the
/// message size limit) the message is parsed here first, and a bad one gets a trailers-only
/// response that says what is wrong; valid ones go on unchanged.
/// </summary>
internal static class UnreadableRequestMiddleware
{
    // grpc-dotnet's default receive limit; larger messages are left to it (RESOURCE_EXHAUSTED).
    private const int MaxMessageBytes = 4 * 1024 * 1024;
    private const int FrameHeaderBytes = 5;
    private static readonly ConcurrentDictionary<Type, MessageParser?> Parsers = new();

    public static IApplicationBuilder UseUnreadableRequestRefusal(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true
            && context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>()?.Method is { Type: MethodType.Unary or MethodType.ServerStreaming } method
            && ParserFor(method) is { } parser
            && await UnreadableAsync(context.Request, parser) is { } problem)
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/grpc";
            context.Response.Headers["grpc-status"] = ((int)StatusCode.InvalidArgument).ToString(System.Globalization.CultureInfo.InvariantCulture);
            context.Response.Headers["grpc-message"] = Uri.EscapeDataString($"the request is not a valid {method.FullName} message: {problem}");
            return;
        }

        await next(context);
    });

    /// <summary>What is wrong with the request's one message, or null when it parses (or is not ours to judge).</summary>
    private static async Task<string?> UnreadableAsync(HttpRequest request, MessageParser parser)
    {
        request.EnableBuffering(MaxMessageBytes + FrameHeaderBytes);
        try
        {
            // The frame header first: a compressed or over-limit message is left to grpc-dotnet
            // before anything large is read.
            var header = new byte[FrameHeaderBytes];
            if (await request.Body.ReadAtLeastAsync(header, FrameHeaderBytes, throwOnEndOfStream: false, request.HttpContext.RequestAborted) < FrameHeaderBytes
                || header[0] != 0
                || BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1)) is var length && length > MaxMessageBytes)
            {
                return null;
            }

            var message = new byte[length];
            if (await request.Body.ReadAtLeastAsync(message, message.Length, throwOnEndOfStream: false, request.HttpContext.RequestAborted) < message.Length)
            {
                return null; // a truncated frame: grpc-dotnet reports it
            }

            parser.ParseFrom(message);
            return null;
        }
        catch (InvalidProtocolBufferException error)
        {
            return error.Message;
        }
        finally
        {
            request.Body.Position = 0;
        }
    }

    private static MessageParser? ParserFor(IMethod method) => Parsers.GetOrAdd(method.GetType(), type =>
        type.IsGenericType && type.GetGenericArguments()[0].GetProperty("Parser", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) is MessageParser parser
            ? parser
            : null);
}
