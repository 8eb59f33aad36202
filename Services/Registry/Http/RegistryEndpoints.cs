using System.Globalization;
using Google.Protobuf;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Registry.Models;
using MsSwift.ServiceDefaults.Errors;

namespace MsSwift.Registry.Http;

/// <summary>
/// The registry's JSON API under <c>/registry</c>: the gRPC messages in protobuf's JSON mapping,
/// errors as ProblemDetails. Responses carry the model's revision as an ETag; sending it back in
/// <c>If-Match</c> makes a change fail with 412 if the model moved on meanwhile.
/// </summary>
internal static class RegistryEndpoints
{
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default);

    public static IEndpointRouteBuilder MapRegistryEndpoints(this IEndpointRouteBuilder app)
    {
        var models = app.MapGroup("/registry/models").AddEndpointFilter(ProblemOnRefusal);

        models.MapGet("/", async (RegistryService registry) =>
            Json(new ListModelsResponse { Models = { await registry.ListAsync() } }));
        models.MapGet("/{model}", async (string model, RegistryService registry) =>
            Model(await registry.GetAsync(model)));
        models.MapPost("/{model}/versions", async (string model, HttpRequest request, RegistryService registry, CancellationToken cancellationToken) =>
        {
            var body = await ReadAsync<RegisterVersionRequest>(request);
            body.Model = model;
            body.ExpectedRevision = ExpectedRevision(request);
            return Model(await registry.RegisterAsync(body, cancellationToken), StatusCodes.Status201Created);
        });
        models.MapPost("/{model}/versions/{version}/promote", async (string model, string version, HttpRequest request, RegistryService registry, CancellationToken cancellationToken) =>
            Model(await registry.PromoteAsync(model, version, ExpectedRevision(request), cancellationToken)));
        models.MapPost("/{model}/versions/{version}/quantize", async (string model, string version, HttpRequest request, RegistryService registry, CancellationToken cancellationToken) =>
        {
            // The body is optional: {"targetVersion": "..."} names the new version.
            var body = await ReadAsync<QuantizeVersionRequest>(request);
            body.Model = model;
            body.Version = version;
            body.ExpectedRevision = ExpectedRevision(request);
            var before = await registry.GetAsync(model);
            var after = await registry.QuantizeAsync(body, cancellationToken);
            return Model(after, after.Revision == before.Revision ? StatusCodes.Status200OK : StatusCodes.Status201Created);
        });
        models.MapPost("/{model}/rollback", async (string model, HttpRequest request, RegistryService registry, CancellationToken cancellationToken) =>
            Model(await registry.RollBackAsync(model, ExpectedRevision(request), cancellationToken)));
        models.MapPut("/{model}/canary", async (string model, HttpRequest request, RegistryService registry, CancellationToken cancellationToken) =>
        {
            var body = await ReadAsync<Canary>(request);
            if (body.Percent == 0)
            {
                throw new ServiceException(ServiceError.InvalidArgument, "percent must be between 1 and 99; DELETE the canary to clear it");
            }

            return Model(await registry.SetCanaryAsync(model, body.Version, body.Percent, ExpectedRevision(request), cancellationToken));
        });
        models.MapDelete("/{model}/canary", async (string model, HttpRequest request, RegistryService registry, CancellationToken cancellationToken) =>
            Model(await registry.SetCanaryAsync(model, "", 0, ExpectedRevision(request), cancellationToken)));
        models.MapPost("/{model}/versions/{version}/archive", async (string model, string version, HttpRequest request, RegistryService registry, CancellationToken cancellationToken) =>
            Model(await registry.ArchiveAsync(model, version, ExpectedRevision(request), cancellationToken)));
        models.MapDelete("/{model}/versions/{version}", async (string model, string version, HttpRequest request, RegistryService registry, CancellationToken cancellationToken) =>
            Model(await registry.DeleteAsync(model, version, ExpectedRevision(request), cancellationToken)));
        return app;
    }

    private static async ValueTask<object?> ProblemOnRefusal(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (ServiceException error)
        {
            var (status, title) = error.Error switch
            {
                ServiceError.InvalidArgument => (StatusCodes.Status400BadRequest, "Invalid request"),
                ServiceError.NotFound => (StatusCodes.Status404NotFound, "Not found"),
                ServiceError.AlreadyExists => (StatusCodes.Status409Conflict, "Already exists"),
                ServiceError.StaleRevision => (StatusCodes.Status412PreconditionFailed, "Revision changed"),
                ServiceError.Conflict => (StatusCodes.Status409Conflict, "Concurrent change"),
                _ => (StatusCodes.Status409Conflict, "Not allowed in the model's current state"),
            };
            return Results.Problem(statusCode: status, title: title, detail: error.Message);
        }
    }

    private static async Task<T> ReadAsync<T>(HttpRequest request) where T : IMessage<T>, new()
    {
        using var reader = new StreamReader(request.Body);
        var json = await reader.ReadToEndAsync(request.HttpContext.RequestAborted);
        try
        {
            return Parser.Parse<T>(string.IsNullOrWhiteSpace(json) ? "{}" : json);
        }
        catch (Exception error) when (error is InvalidJsonException or InvalidProtocolBufferException)
        {
            throw new ServiceException(ServiceError.InvalidArgument, $"the body is not a valid {typeof(T).Name}: {error.Message}");
        }
    }

    /// <summary>The revision in <c>If-Match</c> ("12" or 12), or 0 (no expectation).</summary>
    private static long ExpectedRevision(HttpRequest request)
    {
        var value = request.Headers.IfMatch.ToString().Trim().Trim('"');
        if (value.Length == 0)
        {
            return 0;
        }

        return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var revision)
            ? revision
            : throw new ServiceException(ServiceError.InvalidArgument, $"If-Match must be a model revision such as \"12\", got '{value}'");
    }

    private static ProtoJsonResult Model(RegisteredModel model, int status = StatusCodes.Status200OK) =>
        new ProtoJsonResult(model, status, $"\"{model.Revision.ToString(CultureInfo.InvariantCulture)}\"");

    private static ProtoJsonResult Json(IMessage message) => new ProtoJsonResult(message, StatusCodes.Status200OK, null);
}
