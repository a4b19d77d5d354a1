#!/usr/bin/env python3
"""Fails if the modules of a crate import each other in a circle.

    python3 .ci/module-cycles.py sse-runtime/src sse-macros/src

Reads `crate::` and `super::` paths (doc comments and tests left out), resolves names the
crate root re-exports to the module that defines them, and looks for cycles between
modules two levels deep (`hub::redis` is one, `hub::redis::link` counts as it).
"""
import os,re,sys
def run(src):
    files={}
    for dp,_,fs in os.walk(src):
        for f in fs:
            if f.endswith('.rs'):
                p=os.path.join(dp,f); rel=os.path.relpath(p,src)[:-3].split(os.sep)
                if rel[-1]=='mod': rel=rel[:-1]
                if rel==['lib']: rel=[]
                files['::'.join(rel)]=open(p).read()
    mods=set(files)
    # re-exports at crate root: name -> module
    reexp={}
    for m in re.finditer(r'pub use ([a-z_:]+)::\{([^}]*)\}|pub use ([a-z_:]+)::([A-Za-z_]+);',files.get('',''),re.S):
        if m.group(1):
            for n in re.split(r'[,\s]+',m.group(2)):
                if n: reexp[n]=m.group(1)
        else: reexp[m.group(4)]=m.group(3)
    def resolve(cur,path):
        # path like a::b::C from crate
        parts=path.split('::')
        if parts[0] in reexp and reexp[parts[0]] in mods: return reexp[parts[0]]
        best=''
        for i in range(len(parts),0,-1):
            cand='::'.join(parts[:i])
            if cand in mods: best=cand; break
        return best
    edges={}
    for mod,text in files.items():
        text='\n'.join(l for l in text.split('\n') if not l.strip().startswith('//'))
        t=text.find('#[cfg(test)]')
        if t!=-1: text=text[:t]
        deps=set()
        for m in re.finditer(r'crate::((?:[A-Za-z_0-9]+::)*[A-Za-z_0-9]+)',text):
            deps.add(resolve(mod,m.group(1)))
        for m in re.finditer(r'\bsuper::((?:[A-Za-z_0-9]+::)*[A-Za-z_0-9]+)',text):
            parent=mod.rsplit('::',1)[0] if '::' in mod else ''
            r=resolve(mod,(parent+'::' if parent else '')+m.group(1))
            deps.add(r)
        edges[mod]={d for d in deps if d and d!=mod and not mod.startswith(d+'::') }
    # collapse to depth-2 modules
    def key(m): return '::'.join(m.split('::')[:2])
    g={}
    for a,ds in edges.items():
        for d in ds:
            ka,kd=key(a),key(d)
            if ka!=kd and not ka.startswith(kd+'::') and not kd.startswith(ka+'::'):
                g.setdefault(ka,set()).add(kd)
    found=set()
    def dfs(n,stack):
        for d in g.get(n,()):
            if d in stack:
                cyc=stack[stack.index(d):]
                i=cyc.index(min(cyc)); found.add(' -> '.join(cyc[i:]+cyc[:i]))
                continue
            if len(stack)<8: dfs(d,stack+[d])
    for n in list(g): dfs(n,[n])
    print(src, 'import circles:', sorted(found) or 'none')
    return not found


ok = all([run(src) for src in sys.argv[1:]])
sys.exit(0 if ok else 1)
