-- gcbench.lua: the classic Ellis/Kovac/Boehm GCBench, a peer for Marrow, in Lua 5.4.
-- Same phases and the same stdout as gcbench.go and gcbench.scm (node
-- counts, no times). A node is a table {left, right, i, j}.
-- Usage: lua5.4 gcbench.lua

local kStretchTreeDepth = 18
local kLongLivedTreeDepth = 16
local kArraySize = 500000
local kMinTreeDepth = 4
local kMaxTreeDepth = 16

local nodesBuilt = 0

local function newNode(l, r)
  nodesBuilt = nodesBuilt + 1
  return { l, r, 0, 0 }
end

local function treeSize(i) return (1 << (i + 1)) - 1 end
local function numIters(i) return 2 * treeSize(kStretchTreeDepth) // treeSize(i) end

-- Top-down: the parent exists before its children.
local function populate(depth, n)
  if depth <= 0 then return end
  depth = depth - 1
  n[1] = newNode(nil, nil)
  n[2] = newNode(nil, nil)
  populate(depth, n[1])
  populate(depth, n[2])
end

-- Bottom-up: children before the parent.
local function makeTree(depth)
  if depth <= 0 then return newNode(nil, nil) end
  local l = makeTree(depth - 1)
  local r = makeTree(depth - 1)
  return newNode(l, r)
end

local function countNodes(n)
  if n == nil then return 0 end
  return 1 + countNodes(n[1]) + countNodes(n[2])
end

local out = {}
local function say(s) out[#out + 1] = s end

local function timeConstruction(depth)
  local iters = numIters(depth)
  say(string.format("Creating %d trees of depth %d", iters, depth))
  local before = nodesBuilt
  for _ = 1, iters do
    local t = newNode(nil, nil)
    populate(depth, t)
  end
  say(string.format("\tTop down construction built %d nodes", nodesBuilt - before))
  before = nodesBuilt
  for _ = 1, iters do
    makeTree(depth)
  end
  say(string.format("\tBottom up construction built %d nodes", nodesBuilt - before))
end

say("Garbage Collector Test")
say(string.format(" Stretching memory with a binary tree of depth %d", kStretchTreeDepth))
local before = nodesBuilt
makeTree(kStretchTreeDepth)
say(string.format("\tStretch tree built %d nodes", nodesBuilt - before))

say(string.format(" Creating a long-lived binary tree of depth %d", kLongLivedTreeDepth))
before = nodesBuilt
local longLived = newNode(nil, nil)
populate(kLongLivedTreeDepth, longLived)
say(string.format("\tLong-lived tree built %d nodes", nodesBuilt - before))

say(string.format(" Creating a long-lived array of %d doubles", kArraySize))
local array = {}
for i = 1, kArraySize do array[i] = 0.0 end
for i = 1, kArraySize // 2 - 1 do array[i + 1] = 1.0 / i end

for d = kMinTreeDepth, kMaxTreeDepth, 2 do
  timeConstruction(d)
end

say(string.format("Long-lived tree has %d nodes", countNodes(longLived)))
if array[1001] ~= 1.0 / 1000 then
  say("Failed: long-lived array corrupted")
  io.write(table.concat(out, "\n"), "\n")
  os.exit(1)
end
say("Long-lived array is intact")
say(string.format("Total nodes built: %d", nodesBuilt))
io.write(table.concat(out, "\n"), "\n")
