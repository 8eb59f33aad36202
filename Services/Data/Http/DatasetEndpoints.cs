using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using MsSwift.Contracts;
using MsSwift.Contracts.Data.V1;
using MsSwift.Data.Datasets;
using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Data.Http;

/// <summary>
/// Dataset ingestion over HTTP: <c>POST /datasets/{name}</c> with the records as the (streamed)
/// body, or <c>POST /datasets/{name}/from-path</c> with a file on the allow list; <c>GET
/// /datasets/{name}[/{version}]</c> returns the report, <c>GET /datasets</c> every dataset's latest
/// report by name. Errors are ProblemDetails.
/// </summary>
internal static class DatasetEndpoints
{
    public static IEndpointRouteBuilder MapDatasetEndpoints(this IEndpointRouteBuilder app)
    {
        var datasets = app.MapGroup("/datasets");
        datasets.MapPost("/{name}", async (string name, HttpContext http, DatasetIngest ingest, IOptions<DataOptions> options) =>
        {
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = options.Value.MaxUploadBytes;
            }

            using var reader = new StreamReader(http.Request.Body);
            return await IngestAsync(name, reader, http.Request.Query, ingest, http.RequestAborted);
        });
        datasets.MapPost("/{name}/from-path", FromPathAsync);
        datasets.MapGet("", async (DatasetStore store, CancellationToken cancellationToken) =>
            Results.Json(new DatasetList(await store.ListLatestAsync(cancellationToken)), ProtobufJson.Options));
        datasets.MapGet("/{name}/{version?}", async (string name, string? version, DatasetStore store) =>
            await store.FindAsync(name, version ?? "") is { } info
                ? Results.Text(Google.Protobuf.JsonFormatter.Default.Format(info), "application/json")
                : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown dataset", detail: $"no dataset '{name}' version '{version ?? "latest"}'"));
        return app;
    }

    /// <summary>Ingests a file the service can read itself; only under <see cref="DataOptions.AllowedPaths"/>.</summary>
    private static async Task<IResult> FromPathAsync(string name, HttpContext http, DatasetIngest ingest, IOptions<DataOptions> options)
    {
        if (await ReadPathAsync(http.Request) is not { } requested)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]>
            {
                ["path"] = ["send a JSON body {\"path\": \"...\"} naming a file under Data:AllowedPaths"],
            });
        }

        string path;
        bool allowed;
        try
        {
            // Links resolved first, in the request and the allow list: a link inside an allowed
            // directory must not lead outside it.
            path = RealPath.Resolve(requested);
            allowed = options.Value.AllowedPaths.Any(root => RealPath.IsUnder(path, RealPath.Resolve(root)));
        }
        catch (Exception error) when (error is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["path"] = [error.Message] });
        }

        if (!allowed)
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Path not allowed",
                detail: $"'{requested}' is not under Data:AllowedPaths ({string.Join(", ", options.Value.AllowedPaths)}) once symbolic links are resolved");
        }

        if (!File.Exists(path))
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such file", detail: $"'{requested}' does not exist");
        }

        // The resolved path is opened, not the requested one: what was checked is what is read.
        using var reader = new StreamReader(path);
        return await IngestAsync(name, reader, http.Request.Query, ingest, http.RequestAborted);
    }

    private static async Task<IResult> IngestAsync(string name, TextReader reader, IQueryCollection query, DatasetIngest ingest, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (!ResourceNames.IsValid(name))
        {
            errors["name"] = [$"use {ResourceNames.Rule}"];
        }

        var format = query["format"].ToString() is { Length: > 0 } formatText ? formatText : "text";
        if (!Enum.TryParse<RecordFormat>(format, ignoreCase: true, out var recordFormat) || int.TryParse(format, out _))
        {
            errors["format"] = ["text or jsonl"];
        }

        var tokenizer = query["tokenizer"].ToString() is { Length: > 0 } id ? id : TokenizerRegistry.DefaultId;
        if (!TokenizerRegistry.KnownIds.Contains(tokenizer))
        {
            errors["tokenizer"] = [$"one of {string.Join(", ", TokenizerRegistry.KnownIds)}"];
        }

        var validationPercent = 10;
        if (query["validation_percent"].ToString() is { Length: > 0 } percent && (!int.TryParse(percent, out validationPercent) || validationPercent is < 0 or > 50))
        {
            errors["validation_percent"] = ["an integer from 0 to 50"];
        }

        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors);
        }

        var info = await ingest.IngestAsync(name, reader, new IngestOptions(recordFormat, tokenizer, validationPercent), cancellationToken);
        if (info.Documents == 0)
        {
            return Results.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "No documents",
                detail: $"no usable documents ({info.Malformed} malformed records)");
        }

        return Results.Text(Google.Protobuf.JsonFormatter.Default.Format(info), "application/json", statusCode: StatusCodes.Status201Created);
    }

    /// <summary>The <c>path</c> of a from-path body; null when the body is not JSON or names no path.</summary>
    private static async Task<string?> ReadPathAsync(HttpRequest request)
    {
        try
        {
            var body = await JsonSerializer.DeserializeAsync<PathRequest>(request.Body, JsonSerializerOptions.Web, request.HttpContext.RequestAborted);
            return string.IsNullOrWhiteSpace(body?.Path) ? null : body.Path;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    internal sealed record PathRequest(string? Path);

    /// <summary>The body of <c>GET /datasets</c>: each report in the shape <c>GET /datasets/{name}</c> returns.</summary>
    internal sealed record DatasetList(IReadOnlyList<DatasetInfo> Datasets);
}
