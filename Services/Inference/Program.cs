using MsSwift.Inference.Extensions;
using MsSwift.Inference.Grpc;
using MsSwift.Inference.Oip;
using MsSwift.Inference.OpenAi;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddApplicationServices();
builder.Services.AddGrpc();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapGrpcService<ModelServiceImpl>();
app.MapGrpcService<OipGrpcService>();
app.MapOpenAiEndpoints();
app.MapOipEndpoints();
app.Run();
